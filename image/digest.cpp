#include "image/digest.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/error.hpp"

namespace kiln::image {

bool is_sha256_hex(std::string_view text) {
  if (text.size() != 64) return false;
  for (char c : text)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

Digest parse_digest(std::string_view text) {
  auto colon = text.find(':');
  if (colon == std::string_view::npos) throw Error("invalid digest \"" + std::string(text) + "\": no algorithm");
  std::string_view algo = text.substr(0, colon);
  std::string_view hex = text.substr(colon + 1);
  if (algo != "sha256")
    throw Error("invalid digest \"" + std::string(text) + "\": unsupported algorithm " + std::string(algo));
  if (!is_sha256_hex(hex)) throw Error("invalid digest \"" + std::string(text) + "\": not 64 lowercase hex characters");
  return Digest{std::string(hex)};
}

namespace {
// OpenSSL set up once, without reading openssl.cnf (nothing in it concerns a digest; reading it
// cost every kiln command ~0.4 ms), and SHA-256 fetched once instead of per digest.
const EVP_MD* sha256_method() {
  static const EVP_MD* md = [] {
    OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, nullptr);
    return EVP_MD_fetch(nullptr, "SHA256", nullptr);
  }();
  return md;
}

// After the set-up above: the first OpenSSL call would otherwise do its default one.
EVP_MD_CTX* new_digest_context() {
  sha256_method();
  return EVP_MD_CTX_new();
}
}  // namespace

Sha256::Sha256() : ctx_(new_digest_context()) {
  const EVP_MD* md = sha256_method();
  if (!md || !ctx_ || EVP_DigestInit_ex(ctx_.get(), md, nullptr) != 1) throw Error("sha256: cannot initialise");
}

void Sha256::update(const void* data, size_t size) {
  if (size && EVP_DigestUpdate(ctx_.get(), data, size) != 1) throw Error("sha256: update failed");
}

Digest Sha256::finish() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx_.get(), md, &len) != 1) throw Error("sha256: final failed");
  static const char* hexchars = "0123456789abcdef";
  std::string hex;
  hex.reserve(len * 2);
  for (unsigned i = 0; i < len; ++i) {
    hex += hexchars[md[i] >> 4];
    hex += hexchars[md[i] & 15];
  }
  return Digest{hex};
}

Digest sha256_of(std::string_view data) {
  Sha256 h;
  h.update(data);
  return h.finish();
}

void check_digest(const Digest& expected, const Digest& actual, std::string_view what) {
  if (expected != actual)
    throw Error(std::string(what) + " " + expected.str() + " digest mismatch (content hashes to " + actual.str() + ")");
}

}  // namespace kiln::image
