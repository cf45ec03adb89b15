#include "image/digest.hpp"

// Must precede the OpenSSL headers: see Sha256::State.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include "common/error.hpp"
#include "common/hex.hpp"

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

// Why SHA256_Init and not EVP: OpenSSL 3 builds its provider tables on the first EVP fetch,
// 0.7 ms of every kiln command that names an image (measured: first EVP digest 660-760 us,
// first SHA256_Init digest 15-20 us); both run the same assembly on large blobs. The low-level
// calls are deprecated in OpenSSL 3 but kept, and nothing here needs a provider.
struct Sha256::State {
  SHA256_CTX ctx;
};

Sha256::Sha256() : state_(std::make_unique<State>()) {
  if (SHA256_Init(&state_->ctx) != 1) throw Error("sha256: cannot initialise");
}
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(const void* data, size_t size) {
  if (size && SHA256_Update(&state_->ctx, data, size) != 1) throw Error("sha256: update failed");
}

Digest Sha256::finish() {
  unsigned char md[SHA256_DIGEST_LENGTH];
  if (SHA256_Final(md, &state_->ctx) != 1) throw Error("sha256: final failed");
  return Digest{lower_hex(md, sizeof md)};
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
