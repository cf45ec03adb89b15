// The OCI distribution protocol's read side over HTTP(S) (libcurl): GET of manifests and
// blobs under https://HOST/v2/, with the registry's auth dance done here (anonymous, Bearer
// tokens from the realm a 401 names, Basic). One client per registry host; connections are
// reused. Errors name the registry and what was asked for, never a credential or token.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "image/digest.hpp"
#include "image/registry_auth.hpp"

namespace kiln::image {

struct RegistryOptions {
  bool tls_verify = true;  // false: plain http (podman's --tls-verify=false)
  std::optional<Credentials> credentials;
  long connect_timeout_s = 15;
  long low_speed_timeout_s = 60;  // abort a transfer slower than 1 KiB/s for this long
};

struct RegistryResponse {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // names lowercase
};

class RegistryClient {
 public:
  RegistryClient(std::string host, RegistryOptions options);
  ~RegistryClient();
  RegistryClient(const RegistryClient&) = delete;
  RegistryClient& operator=(const RegistryClient&) = delete;

  const std::string& host() const { return host_; }

  // GET /v2/: that the registry answers and takes our credentials (kiln login). Throws
  // "credentials refused" / "authentication required" / the transport's error.
  void check_access();

  // GET /v2/<repo>/manifests/<reference>; the body is bounded (4 MiB). Throws on any status but
  // 200 with the registry's reason (401/403: "authentication required"/"denied", 404: not found).
  RegistryResponse get_manifest(const std::string& repo, const std::string& reference,
                                const std::vector<std::string>& accept);

  // GET /v2/<repo>/blobs/<digest>, streamed to `sink` while hashed; throws when the bytes do
  // not hash to `digest` or are more than `max_size` (the descriptor's size, when known).
  void fetch_blob(const std::string& repo, const Digest& digest, uint64_t max_size,
                  const std::function<void(const char*, size_t)>& sink);

 private:
  struct Curl;
  RegistryResponse request(const std::string& url, const std::vector<std::string>& headers,
                           const std::function<bool(const char*, size_t)>& sink, uint64_t max_body,
                           const std::string& scope);
  void authenticate(const RegistryResponse& unauthorized, const std::string& scope);

  std::string host_;
  RegistryOptions options_;
  std::unique_ptr<Curl> curl_;
  std::string authorization_;  // "Bearer <token>" / "Basic <...>": a secret
};

}  // namespace kiln::image
