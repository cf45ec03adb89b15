// Content digests ("sha256:<64 hex>") and a streaming SHA-256 (OpenSSL's SHA-256).
// Every blob kiln reads is named by its digest and checked against it before it is trusted.
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace kiln::image {

// A validated digest. Only sha256 is accepted: it is what the OCI image-spec requires
// implementations to support, and the store is keyed by it.
struct Digest {
  std::string hex;  // 64 lowercase hex characters

  std::string str() const { return "sha256:" + hex; }
  bool empty() const { return hex.empty(); }
  bool operator==(const Digest&) const = default;
};

// Parses "sha256:<64 lowercase hex>"; throws "invalid digest "X": reason".
Digest parse_digest(std::string_view text);
// True when text is exactly 64 lowercase hex characters.
bool is_sha256_hex(std::string_view text);

// Streaming SHA-256. update() may be called any number of times; finish() once.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  void update(const void* data, size_t size);
  void update(std::string_view data) { update(data.data(), data.size()); }
  Digest finish();

 private:
  struct State;  // OpenSSL's context, kept out of this header
  std::unique_ptr<State> state_;
};

Digest sha256_of(std::string_view data);

// Throws "blob sha256:... digest mismatch (got sha256:...)" when actual != expected.
void check_digest(const Digest& expected, const Digest& actual, std::string_view what = "blob");

}  // namespace kiln::image
