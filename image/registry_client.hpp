// The OCI distribution protocol over HTTP(S) (libcurl): GET of manifests and blobs under
// https://HOST/v2/, and the push side (HEAD, cross-repository mount, monolithic and chunked
// uploads, manifest PUT), with the registry's auth dance done here (anonymous, Bearer tokens
// from the realm a 401 names, Basic). One client per registry host; connections are reused.
// A 429 or 5xx is retried a bounded number of times with a growing pause (Retry-After honoured
// up to a cap). Errors name the registry and what was asked for, never a credential or token.
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
  int max_retries = 4;            // of a request answered 429 or 5xx (pauses 0.25 s, 0.5 s, ...)
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

  // Another client for the same registry with what this one has learned (a token): for a
  // transfer on another thread (one client is used by one thread at a time).
  std::unique_ptr<RegistryClient> fork() const;

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

  // --- push ---
  // HEAD /v2/<repo>/blobs/<digest>: whether the registry already has the blob in repo.
  bool has_blob(const std::string& repo, const Digest& digest);
  // POST /v2/<repo>/blobs/uploads/?mount=<digest>&from=<from_repo>: true when the registry
  // linked the blob (201). Otherwise it may have opened an ordinary upload (202): its location
  // is returned in `upload`, for the caller to use instead of starting another.
  bool mount_blob(const std::string& repo, const Digest& digest, const std::string& from_repo, std::string& upload);
  // POST /v2/<repo>/blobs/uploads/: the absolute URL of a new upload session.
  std::string start_upload(const std::string& repo);
  // The whole blob (fd from 0, size bytes) in one PUT <upload>?digest=.
  void upload_monolithic(const std::string& repo, const std::string& upload, const Digest& digest, int fd,
                         uint64_t size);
  // PATCHes of chunk_size bytes (Content-Range), each to the location the last answer named,
  // then an empty PUT ?digest= that closes the upload.
  void upload_chunked(const std::string& repo, const std::string& upload, const Digest& digest, int fd, uint64_t size,
                      uint64_t chunk_size);
  // PUT /v2/<repo>/manifests/<reference>; returns the registry's Docker-Content-Digest (or
  // ours when it sends none) after checking it matches the body's.
  Digest put_manifest(const std::string& repo, const std::string& reference, const std::string& media_type,
                      const std::string& body);

  // Requests and retries this client made (for tests and the bench: "a second pull fetches
  // nothing" is counted here too).
  size_t retries() const { return retries_; }

 private:
  struct Curl;
  struct Request;
  RegistryResponse request(const Request& req);
  void authenticate(const RegistryResponse& unauthorized, const std::string& scope);
  std::string base() const;
  std::string upload_url(const RegistryResponse& r, const std::string& what) const;

  std::string host_;
  RegistryOptions options_;
  std::unique_ptr<Curl> curl_;
  std::string authorization_;  // "Bearer <token>" / "Basic <...>": a secret
  size_t retries_ = 0;
};

// Where an upload continues: a Location header, absolute or relative to `base`
// ("http://127.0.0.1:5000"), resolved to an absolute URL. Throws when it names another host or
// scheme (our Authorization header would go with it) or is not a URL path at all.
std::string resolve_upload_location(const std::string& base, const std::string& location);

// `url` with key=value (value URL-escaped) appended after '?' or '&'.
std::string with_query(const std::string& url, const std::string& key, const std::string& value);

}  // namespace kiln::image
