#include "image/registry_client.hpp"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <exception>
#include <mutex>
#include <thread>
#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "common/files.hpp"

namespace kiln::image {

using json = nlohmann::json;

namespace {

constexpr uint64_t kMaxManifestSize = 4 << 20;
constexpr uint64_t kMaxErrorBody = 64 << 10;
constexpr uint64_t kMaxTokenSize = 1 << 20;

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Transfer {
  CURL* handle = nullptr;
  RegistryResponse* response = nullptr;
  const std::function<bool(const char*, size_t)>* sink = nullptr;
  uint64_t max_body = 0;
  uint64_t received = 0;
  bool too_large = false;
  // A sink that throws (disk full, a cancelled pull) must not unwind through libcurl's C
  // frames: the exception waits here and is rethrown once curl_easy_perform has returned.
  std::exception_ptr sink_error;
};

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  long status = 0;
  curl_easy_getinfo(t->handle, CURLINFO_RESPONSE_CODE, &status);
  // Only a 200's body goes to the sink; an error's (bounded) is kept for its message.
  const bool ok = status == 200 && t->sink && *t->sink;
  t->received += n;
  if (t->received > (ok ? t->max_body : kMaxErrorBody)) {
    t->too_large = true;
    return 0;
  }
  if (ok) {
    try {
      return (*t->sink)(data, n) ? n : 0;
    } catch (...) {
      t->sink_error = std::current_exception();
      return 0;
    }
  }
  t->response->body.append(data, n);
  return n;
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  std::string line(data, n);
  if (line.rfind("HTTP/", 0) == 0) {  // a new response (after a redirect): its own headers
    t->response->headers.clear();
    return n;
  }
  size_t colon = line.find(':');
  if (colon == std::string::npos) return n;
  std::string name = line.substr(0, colon);
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.erase(value.begin());
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) value.pop_back();
  t->response->headers[name] = value;
  return n;
}

// The CA a registry's certificate is checked against, besides the system store: certs.d as
// podman and docker keep it ($KILN_CERTS_DIR first, for tests and unusual setups).
std::string ca_file_for(const std::string& host) {
  std::vector<std::string> dirs;
  if (const char* d = ::getenv("KILN_CERTS_DIR"); d && *d) dirs.emplace_back(d);
  dirs.emplace_back("/etc/containers/certs.d");
  dirs.emplace_back("/etc/docker/certs.d");
  for (const auto& dir : dirs) {
    std::string ca = dir + "/" + host + "/ca.crt";
    if (path_exists(ca)) return ca;
  }
  return "";
}

std::string base64_encoded(const std::string& text) {
  std::string out(4 * ((text.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

// The registry's own words for an error ({"errors":[{"code":"MANIFEST_UNKNOWN","message":...}]}).
std::string registry_reason(const RegistryResponse& r) {
  json doc = json::parse(r.body, nullptr, false);
  if (doc.is_object() && doc.contains("errors") && doc["errors"].is_array() && !doc["errors"].empty()) {
    const json& e = doc["errors"][0];
    std::string code = e.contains("code") && e["code"].is_string() ? e["code"].get<std::string>() : "";
    std::string msg = e.contains("message") && e["message"].is_string() ? e["message"].get<std::string>() : "";
    std::string out = code.empty() ? msg : code + (msg.empty() ? "" : ": " + msg);
    if (out.size() > 200) out.resize(200);
    if (!out.empty()) return out;
  }
  return "HTTP " + std::to_string(r.status);
}

}  // namespace

struct RegistryClient::Curl {
  CURL* handle = nullptr;
  ~Curl() {
    if (handle) curl_easy_cleanup(handle);
  }
};

RegistryClient::RegistryClient(std::string host, RegistryOptions options)
    : host_(std::move(host)), options_(std::move(options)), curl_(std::make_unique<Curl>()) {
  init_curl_once();
  curl_->handle = curl_easy_init();
  if (!curl_->handle) throw Error("registry " + host_ + ": cannot start an HTTP client");
  if (options_.credentials)
    authorization_ = "Basic " + base64_encoded(options_.credentials->username + ":" + options_.credentials->password);
}

RegistryClient::~RegistryClient() = default;

std::unique_ptr<RegistryClient> RegistryClient::fork() const {
  auto c = std::make_unique<RegistryClient>(host_, options_);
  c->authorization_ = authorization_;
  return c;
}

struct RegistryClient::Request {
  std::string method = "GET";  // GET, HEAD, POST, PUT, PATCH
  std::string url;
  std::vector<std::string> headers;
  const std::function<bool(const char*, size_t)>* sink = nullptr;  // a 200's body; none: discarded
  uint64_t max_body = 0;
  std::string scope;  // what a Bearer token must allow ("repository:team/app:pull,push")
  // The body sent (POST/PUT/PATCH): `text`, or `length` bytes of `fd` from `offset`.
  const std::string* text = nullptr;
  int fd = -1;
  uint64_t offset = 0;
  uint64_t length = 0;
};

namespace {

struct UploadSource {
  const std::string* text = nullptr;
  int fd = -1;
  uint64_t offset = 0;  // next byte of fd (or of text) to send
  uint64_t end = 0;
  int error = 0;
};

size_t on_upload_read(char* buffer, size_t size, size_t count, void* user) {
  auto* u = static_cast<UploadSource*>(user);
  size_t want = std::min<uint64_t>(size * count, u->end - u->offset);
  if (want == 0) return 0;
  if (u->text) {
    std::memcpy(buffer, u->text->data() + u->offset, want);
    u->offset += want;
    return want;
  }
  ssize_t n;
  do {
    n = ::pread(u->fd, buffer, want, static_cast<off_t>(u->offset));
  } while (n < 0 && errno == EINTR);
  if (n <= 0) {
    u->error = n < 0 ? errno : EIO;
    return CURL_READFUNC_ABORT;
  }
  u->offset += static_cast<uint64_t>(n);
  return static_cast<size_t>(n);
}

bool retryable_status(long status) {
  return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

// The pause before retry `attempt` (0-based): 0.25 s doubling, longer when the registry's
// Retry-After (seconds) asks for more; never more than 5 s, so a retried request ends in
// bounded time.
std::chrono::milliseconds retry_pause(int attempt, const RegistryResponse& r) {
  long ms = 250L << attempt;
  if (auto it = r.headers.find("retry-after"); it != r.headers.end()) {
    const std::string& v = it->second;
    if (!v.empty() && v.size() < 6 && std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; }))
      ms = std::max(ms, std::stol(v) * 1000);
  }
  return std::chrono::milliseconds(std::min(ms, 5000L));
}

}  // namespace

std::string RegistryClient::base() const { return std::string(options_.tls_verify ? "https://" : "http://") + host_; }

RegistryResponse RegistryClient::request(const Request& req) {
  bool authenticated = false;
  for (int attempt = 0;; ++attempt) {
    RegistryResponse response;
    Transfer t{curl_->handle, &response, req.sink, req.max_body, 0, false, nullptr};
    UploadSource upload{req.text, req.fd, req.text ? 0 : req.offset,
                        req.text ? req.text->size() : req.offset + req.length, 0};
    const bool sends_body = req.method == "POST" || req.method == "PUT" || req.method == "PATCH";
    CURL* h = curl_->handle;
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, req.url.c_str());
    if (req.method == "HEAD") {
      curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (sends_body) {
      curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
      curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(upload.end - upload.offset));
      curl_easy_setopt(h, CURLOPT_READFUNCTION, on_upload_read);
      curl_easy_setopt(h, CURLOPT_READDATA, &upload);
    } else {
      curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    // Registries send blob GETs to storage elsewhere; curl drops our Authorization header when
    // a redirect leaves the host (CURLOPT_UNRESTRICTED_AUTH stays off).
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, sends_body ? 0L : 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, options_.tls_verify ? "https" : "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, options_.tls_verify ? "https" : "http,https");
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, options_.connect_timeout_s);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, options_.low_speed_timeout_s);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, options_.tls_verify ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, options_.tls_verify ? 2L : 0L);
    const std::string ca = ca_file_for(host_);
    if (options_.tls_verify && !ca.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, ca.c_str());
    curl_easy_setopt(h, CURLOPT_USERAGENT, "kiln");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
    struct curl_slist* list = nullptr;
    for (const auto& hdr : req.headers) list = curl_slist_append(list, hdr.c_str());
    if (sends_body) list = curl_slist_append(list, "Expect:");  // no 100-continue round trip
    if (!authorization_.empty()) list = curl_slist_append(list, ("Authorization: " + authorization_).c_str());
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
    CURLcode rc = curl_easy_perform(h);
    curl_slist_free_all(list);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
    if (t.sink_error) std::rethrow_exception(t.sink_error);
    const std::string what = "registry " + host_ + ": " + req.method + " " + req.url;
    if (t.too_large)
      throw Error("registry " + host_ + ": response to " + req.method + " " + req.url + " is larger than expected",
                  EFBIG);
    if (upload.error) throw Error(what + ": reading the blob: " + std::strerror(upload.error), upload.error);
    if (rc != CURLE_OK && rc != CURLE_WRITE_ERROR) throw Error(what + ": " + curl_easy_strerror(rc), ECONNREFUSED);
    if (rc == CURLE_WRITE_ERROR && response.status == 200) throw Error(what + ": aborted");
    if (response.status == 401 && !authenticated) {
      authenticated = true;
      authenticate(response, req.scope);
      continue;
    }
    if (retryable_status(response.status) && attempt < options_.max_retries) {
      auto pause = retry_pause(attempt, response);
      ++retries_;
      spdlog::debug("registry {}: {} answered {}; retrying in {} ms", host_, req.method, response.status,
                    pause.count());
      std::this_thread::sleep_for(pause);
      continue;
    }
    return response;
  }
}

void RegistryClient::authenticate(const RegistryResponse& unauthorized, const std::string& scope) {
  auto header = unauthorized.headers.find("www-authenticate");
  std::optional<AuthChallenge> c =
      header == unauthorized.headers.end() ? std::nullopt : parse_auth_challenge(header->second);
  const std::string hint =
      options_.credentials ? "credentials refused" : "authentication required (kiln login " + host_ + ")";
  if (!c) throw Error("registry " + host_ + ": " + hint, EACCES);
  if (c->scheme == "basic") {
    // With credentials the Basic header went with the request already: a 401 means no.
    throw Error("registry " + host_ + ": " + hint, EACCES);
  }
  if (c->scheme != "bearer" || c->params["realm"].empty())
    throw Error("registry " + host_ + ": unsupported authentication scheme " + c->scheme, EACCES);
  std::string realm = c->params["realm"];
  if (realm.rfind("https://", 0) != 0 && !(realm.rfind("http://", 0) == 0 && !options_.tls_verify))
    throw Error("registry " + host_ + ": token realm " + realm + " is not https", EACCES);
  std::string url = realm + (realm.find('?') == std::string::npos ? "?" : "&");
  auto add = [&](const char* key, const std::string& value) {
    if (value.empty()) return;
    char* escaped = curl_easy_escape(curl_->handle, value.c_str(), static_cast<int>(value.size()));
    url += std::string(url.back() == '?' || url.back() == '&' ? "" : "&") + key + "=" + escaped;
    curl_free(escaped);
  };
  add("service", c->params["service"]);
  add("scope", c->params.count("scope") ? c->params["scope"] : scope);
  // The token request carries the user's credentials (Basic) or none (anonymous pull).
  std::string basic =
      options_.credentials
          ? "Basic " + base64_encoded(options_.credentials->username + ":" + options_.credentials->password)
          : "";
  authorization_ = basic;
  std::string body;
  const std::function<bool(const char*, size_t)> sink = [&](const char* d, size_t n) {
    body.append(d, n);
    return true;
  };
  Request token_request;
  token_request.url = url;
  token_request.sink = &sink;
  token_request.max_body = kMaxTokenSize;
  RegistryResponse r = request(token_request);
  if (r.status != 200)
    throw Error("registry " + host_ + ": token request refused (" + registry_reason(r) + ")", EACCES);
  json doc = json::parse(body, nullptr, false);
  std::string token;
  for (const char* key : {"token", "access_token"})
    if (doc.is_object() && doc.contains(key) && doc[key].is_string() && token.empty())
      token = doc[key].get<std::string>();
  if (token.empty()) throw Error("registry " + host_ + ": the token server sent no token", EACCES);
  authorization_ = "Bearer " + token;
  spdlog::debug("registry {}: got a bearer token for {}", host_, c->params.count("scope") ? c->params["scope"] : scope);
}

void RegistryClient::check_access() {
  const std::function<bool(const char*, size_t)> discard = [](const char*, size_t) { return true; };
  Request req;
  req.url = base() + "/v2/";
  req.sink = &discard;
  req.max_body = 1 << 20;
  RegistryResponse r = request(req);
  if (r.status == 401 || r.status == 403)
    throw Error("registry " + host_ + ": " + (options_.credentials ? "credentials refused" : "authentication required"),
                EACCES);
  if (r.status != 200) throw Error("registry " + host_ + ": /v2/ answered " + registry_reason(r));
}

RegistryResponse RegistryClient::get_manifest(const std::string& repo, const std::string& reference,
                                              const std::vector<std::string>& accept) {
  std::string accept_header = "Accept: ";
  for (size_t i = 0; i < accept.size(); ++i) accept_header += (i ? ", " : "") + accept[i];
  std::string body;
  const std::function<bool(const char*, size_t)> sink = [&](const char* d, size_t n) {
    body.append(d, n);
    return true;
  };
  Request req;
  req.url = base() + "/v2/" + repo + "/manifests/" + reference;
  req.headers = {accept_header};
  req.sink = &sink;
  req.max_body = kMaxManifestSize;
  req.scope = "repository:" + repo + ":pull";
  RegistryResponse r = request(req);
  const std::string what = "registry " + host_ + ": manifest " + repo + ":" + reference;
  if (r.status == 404) throw Error(what + ": not found (" + registry_reason(r) + ")", ENOENT);
  if (r.status == 401) throw Error(what + ": authentication required (kiln login " + host_ + ")", EACCES);
  if (r.status == 403) throw Error(what + ": access denied", EACCES);
  if (r.status != 200) throw Error(what + ": " + registry_reason(r));
  r.body = std::move(body);
  return r;
}

void RegistryClient::fetch_blob(const std::string& repo, const Digest& digest, uint64_t max_size,
                                const std::function<void(const char*, size_t)>& sink) {
  Sha256 hash;
  const std::function<bool(const char*, size_t)> hashing_sink = [&](const char* d, size_t n) {
    hash.update(d, n);
    sink(d, n);
    return true;
  };
  Request req;
  req.url = base() + "/v2/" + repo + "/blobs/" + digest.str();
  req.sink = &hashing_sink;
  req.max_body = max_size;
  req.scope = "repository:" + repo + ":pull";
  RegistryResponse r = request(req);
  const std::string what = "registry " + host_ + ": blob " + digest.str();
  if (r.status == 404) throw Error(what + ": not found", ENOENT);
  if (r.status == 401 || r.status == 403) throw Error(what + ": access denied", EACCES);
  if (r.status != 200) throw Error(what + ": " + registry_reason(r));
  check_digest(digest, hash.finish(), "registry " + host_ + ": blob");
}

std::string resolve_upload_location(const std::string& base, const std::string& location) {
  if (location.empty() || location.size() > 8192)
    throw Error("upload location of " + std::to_string(location.size()) + " bytes");
  for (char c : location)
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f)
      throw Error("upload location with a control character or space");
  if (location.front() == '/') {
    if (location.size() > 1 && location[1] == '/') throw Error("upload location names another host");
    return base + location;
  }
  if (location.rfind(base + "/", 0) == 0) return location;
  throw Error("upload location names another host or scheme");
}

std::string with_query(const std::string& url, const std::string& key, const std::string& value) {
  char* escaped = curl_easy_escape(nullptr, value.c_str(), static_cast<int>(value.size()));
  if (!escaped) throw Error("escape a URL query value", ENOMEM);
  std::string out = url + (url.find('?') == std::string::npos ? "?" : "&") + key + "=" + escaped;
  curl_free(escaped);
  return out;
}

std::string RegistryClient::upload_url(const RegistryResponse& r, const std::string& what) const {
  auto it = r.headers.find("location");
  if (it == r.headers.end()) throw Error("registry " + host_ + ": " + what + ": the answer names no upload location");
  try {
    return resolve_upload_location(base(), it->second);
  } catch (const Error& e) {
    throw Error("registry " + host_ + ": " + what + ": " + e.what());
  }
}

namespace {

std::string push_scope(const std::string& repo) { return "repository:" + repo + ":pull,push"; }

[[noreturn]] void throw_refusal(const std::string& what, const RegistryResponse& r, const std::string& host) {
  if (r.status == 401) throw Error(what + ": authentication required (kiln login " + host + ")", EACCES);
  if (r.status == 403) throw Error(what + ": access denied", EACCES);
  throw Error(what + ": " + registry_reason(r));
}

}  // namespace

bool RegistryClient::has_blob(const std::string& repo, const Digest& digest) {
  Request req;
  req.method = "HEAD";
  req.url = base() + "/v2/" + repo + "/blobs/" + digest.str();
  req.scope = push_scope(repo);
  RegistryResponse r = request(req);
  if (r.status == 200) return true;
  if (r.status == 404) return false;
  throw_refusal("registry " + host_ + ": HEAD blob " + digest.str(), r, host_);
}

bool RegistryClient::mount_blob(const std::string& repo, const Digest& digest, const std::string& from_repo,
                                std::string& upload) {
  static const std::string empty;
  Request req;
  req.method = "POST";
  req.url =
      with_query(with_query(base() + "/v2/" + repo + "/blobs/uploads/", "mount", digest.str()), "from", from_repo);
  req.scope = push_scope(repo);
  req.text = &empty;
  RegistryResponse r = request(req);
  const std::string what = "registry " + host_ + ": mount " + digest.str() + " from " + from_repo;
  if (r.status == 201) return true;
  if (r.status == 202) {
    upload = upload_url(r, what);
    return false;
  }
  throw_refusal(what, r, host_);
}

std::string RegistryClient::start_upload(const std::string& repo) {
  static const std::string empty;
  Request req;
  req.method = "POST";
  req.url = base() + "/v2/" + repo + "/blobs/uploads/";
  req.scope = push_scope(repo);
  req.text = &empty;
  RegistryResponse r = request(req);
  const std::string what = "registry " + host_ + ": start an upload to " + repo;
  if (r.status != 202) throw_refusal(what, r, host_);
  return upload_url(r, what);
}

void RegistryClient::upload_monolithic(const std::string& repo, const std::string& upload, const Digest& digest, int fd,
                                       uint64_t size) {
  Request req;
  req.method = "PUT";
  req.url = with_query(upload, "digest", digest.str());
  req.headers = {"Content-Type: application/octet-stream"};
  req.scope = push_scope(repo);
  req.fd = fd;
  req.length = size;
  RegistryResponse r = request(req);
  if (r.status != 201) throw_refusal("registry " + host_ + ": upload of blob " + digest.str(), r, host_);
}

void RegistryClient::upload_chunked(const std::string& repo, const std::string& upload, const Digest& digest, int fd,
                                    uint64_t size, uint64_t chunk_size) {
  if (chunk_size == 0) throw Error("upload of blob " + digest.str() + ": a chunk size of 0");
  const std::string what = "registry " + host_ + ": chunked upload of blob " + digest.str();
  std::string location = upload;
  for (uint64_t offset = 0; offset < size; offset += chunk_size) {
    const uint64_t n = std::min(chunk_size, size - offset);
    Request req;
    req.method = "PATCH";
    req.url = location;
    // distribution's spelling: "start-end", inclusive, no unit
    req.headers = {"Content-Type: application/octet-stream",
                   "Content-Range: " + std::to_string(offset) + "-" + std::to_string(offset + n - 1)};
    req.scope = push_scope(repo);
    req.fd = fd;
    req.offset = offset;
    req.length = n;
    RegistryResponse r = request(req);
    if (r.status != 202) throw_refusal(what + " (bytes " + std::to_string(offset) + "+)", r, host_);
    location = upload_url(r, what);
  }
  static const std::string empty;
  Request close;
  close.method = "PUT";
  close.url = with_query(location, "digest", digest.str());
  close.scope = push_scope(repo);
  close.text = &empty;
  RegistryResponse r = request(close);
  if (r.status != 201) throw_refusal(what, r, host_);
}

Digest RegistryClient::put_manifest(const std::string& repo, const std::string& reference,
                                    const std::string& media_type, const std::string& body) {
  Request req;
  req.method = "PUT";
  req.url = base() + "/v2/" + repo + "/manifests/" + reference;
  req.headers = {"Content-Type: " + media_type};
  req.scope = push_scope(repo);
  req.text = &body;
  RegistryResponse r = request(req);
  const std::string what = "registry " + host_ + ": manifest " + repo + ":" + reference;
  if (r.status != 201) throw_refusal(what, r, host_);
  Digest ours = sha256_of(body);
  if (auto it = r.headers.find("docker-content-digest"); it != r.headers.end())
    check_digest(ours, parse_digest(it->second), what + ": the registry's digest of");
  return ours;
}

}  // namespace kiln::image
