#include "image/registry_client.hpp"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include <cctype>
#include <mutex>
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
  if (ok) return (*t->sink)(data, n) ? n : 0;
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

RegistryResponse RegistryClient::request(const std::string& url, const std::vector<std::string>& headers,
                                         const std::function<bool(const char*, size_t)>& sink, uint64_t max_body,
                                         const std::string& scope) {
  for (int attempt = 0;; ++attempt) {
    RegistryResponse response;
    Transfer t{curl_->handle, &response, &sink, max_body, 0, false};
    CURL* h = curl_->handle;
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    // Registries send blob GETs to storage elsewhere; curl drops our Authorization header when
    // a redirect leaves the host (CURLOPT_UNRESTRICTED_AUTH stays off).
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, options_.tls_verify ? "https" : "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, options_.tls_verify ? "https" : "http,https");
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, options_.connect_timeout_s);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, options_.low_speed_timeout_s);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, options_.tls_verify ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, options_.tls_verify ? 2L : 0L);
    for (const char* dir : {"/etc/containers/certs.d/", "/etc/docker/certs.d/"}) {
      std::string ca = std::string(dir) + host_ + "/ca.crt";
      if (options_.tls_verify && path_exists(ca)) {
        curl_easy_setopt(h, CURLOPT_CAINFO, ca.c_str());
        break;
      }
    }
    curl_easy_setopt(h, CURLOPT_USERAGENT, "kiln");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
    struct curl_slist* list = nullptr;
    for (const auto& hdr : headers) list = curl_slist_append(list, hdr.c_str());
    if (!authorization_.empty()) list = curl_slist_append(list, ("Authorization: " + authorization_).c_str());
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
    CURLcode rc = curl_easy_perform(h);
    curl_slist_free_all(list);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
    if (t.too_large) throw Error("registry " + host_ + ": response to GET " + url + " is larger than expected", EFBIG);
    if (rc != CURLE_OK && rc != CURLE_WRITE_ERROR)
      throw Error("registry " + host_ + ": GET " + url + ": " + curl_easy_strerror(rc), ECONNREFUSED);
    if (rc == CURLE_WRITE_ERROR && response.status == 200)
      throw Error("registry " + host_ + ": GET " + url + ": aborted");
    if (response.status == 401 && attempt == 0) {
      authenticate(response, scope);
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
  RegistryResponse r = request(
      url, {},
      [&](const char* d, size_t n) {
        body.append(d, n);
        return true;
      },
      kMaxTokenSize, "");
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
  const std::string url = std::string(options_.tls_verify ? "https://" : "http://") + host_ + "/v2/";
  RegistryResponse r = request(
      url, {}, [](const char*, size_t) { return true; }, 1 << 20, "");
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
  const std::string url =
      std::string(options_.tls_verify ? "https://" : "http://") + host_ + "/v2/" + repo + "/manifests/" + reference;
  RegistryResponse r = request(
      url, {accept_header},
      [&](const char* d, size_t n) {
        body.append(d, n);
        return true;
      },
      kMaxManifestSize, "repository:" + repo + ":pull");
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
  const std::string url =
      std::string(options_.tls_verify ? "https://" : "http://") + host_ + "/v2/" + repo + "/blobs/" + digest.str();
  RegistryResponse r = request(
      url, {},
      [&](const char* d, size_t n) {
        hash.update(d, n);
        sink(d, n);
        return true;
      },
      max_size, "repository:" + repo + ":pull");
  const std::string what = "registry " + host_ + ": blob " + digest.str();
  if (r.status == 404) throw Error(what + ": not found", ENOENT);
  if (r.status == 401 || r.status == 403) throw Error(what + ": access denied", EACCES);
  if (r.status != 200) throw Error(what + ": " + registry_reason(r));
  check_digest(digest, hash.finish(), "registry " + host_ + ": blob");
}

}  // namespace kiln::image
