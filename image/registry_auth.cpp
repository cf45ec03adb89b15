#include "image/registry_auth.hpp"

#include <openssl/evp.h>
#include <stdlib.h>
#include <unistd.h>

#include <cctype>
#include <nlohmann/json.hpp>
#include <vector>

#include "common/error.hpp"
#include "common/files.hpp"

namespace kiln::image {

using json = nlohmann::json;

namespace {

std::string lower_ascii(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::optional<std::string> base64_decoded(const std::string& text) {
  if (text.empty() || text.size() % 4 != 0 || text.size() > 16384) return std::nullopt;
  std::vector<unsigned char> out(text.size() / 4 * 3 + 1);
  int n =
      EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  size_t len = static_cast<size_t>(n);
  // EVP_DecodeBlock counts the padding as zero bytes.
  for (size_t i = text.size(); i > 0 && text[i - 1] == '=' && len > 0; --i) --len;
  return std::string(reinterpret_cast<const char*>(out.data()), len);
}

}  // namespace

std::optional<Credentials> credentials_from_auth_json(std::string_view text, const std::string& host,
                                                      const std::string& file) {
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) throw Error("credentials file " + file + ": not a JSON object");
  auto auths = doc.find("auths");
  if (auths == doc.end() || !auths->is_object()) return std::nullopt;
  // docker writes "https://index.docker.io/v1/" style keys too: compare the host part.
  for (const auto& [key, entry] : auths->items()) {
    std::string k = key;
    for (const char* scheme : {"https://", "http://"})
      if (k.rfind(scheme, 0) == 0) k = k.substr(std::string_view(scheme).size());
    if (auto slash = k.find('/'); slash != std::string::npos) k = k.substr(0, slash);
    if (k != host) continue;
    if (!entry.is_object() || !entry.contains("auth") || !entry["auth"].is_string())
      throw Error("credentials file " + file + ": the entry for " + host + " has no \"auth\" string");
    std::optional<std::string> pair = base64_decoded(entry["auth"].get<std::string>());
    size_t colon = pair ? pair->find(':') : std::string::npos;
    if (!pair || colon == std::string::npos)
      throw Error("credentials file " + file + ": the entry for " + host + " is not base64 of user:password");
    return Credentials{pair->substr(0, colon), pair->substr(colon + 1)};
  }
  return std::nullopt;
}

std::optional<Credentials> find_credentials(const std::string& host) {
  std::vector<std::string> files;
  if (const char* f = ::getenv("REGISTRY_AUTH_FILE"); f && *f) files.emplace_back(f);
  if (const char* x = ::getenv("XDG_RUNTIME_DIR"); x && *x) files.push_back(std::string(x) + "/containers/auth.json");
  files.push_back("/run/containers/" + std::to_string(::getuid()) + "/auth.json");
  if (const char* h = ::getenv("HOME"); h && *h) files.push_back(std::string(h) + "/.docker/config.json");
  for (const auto& file : files) {
    if (!path_exists(file)) continue;
    if (auto c = credentials_from_auth_json(read_file(file), host, file)) return c;
  }
  return std::nullopt;
}

std::string auth_file_for_writing() {
  if (const char* f = ::getenv("REGISTRY_AUTH_FILE"); f && *f) return f;
  if (const char* x = ::getenv("XDG_RUNTIME_DIR"); x && *x) return std::string(x) + "/containers/auth.json";
  return "/run/containers/" + std::to_string(::getuid()) + "/auth.json";
}

namespace {

json read_auth_doc(const std::string& file) {
  if (!path_exists(file)) return json{{"auths", json::object()}};
  json doc = json::parse(read_file(file), nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) throw Error("credentials file " + file + ": not a JSON object");
  if (!doc.contains("auths") || !doc["auths"].is_object()) doc["auths"] = json::object();
  return doc;
}

void write_auth_doc(const std::string& file, const json& doc) {
  const size_t slash = file.rfind('/');
  if (slash != std::string::npos && slash > 0) mkdir_p(file.substr(0, slash), 0700);
  write_file_atomic(file, doc.dump(1, '\t') + "\n", 0600);
}

}  // namespace

void store_credentials(const std::string& file, const std::string& host, const Credentials& c) {
  json doc = read_auth_doc(file);
  const std::string pair = c.username + ":" + c.password;
  std::string encoded(4 * ((pair.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()),
                          reinterpret_cast<const unsigned char*>(pair.data()), static_cast<int>(pair.size()));
  encoded.resize(static_cast<size_t>(n));
  doc["auths"][host] = {{"auth", encoded}};
  write_auth_doc(file, doc);
}

bool forget_credentials(const std::string& file, const std::string& host) {
  if (!path_exists(file)) return false;
  json doc = read_auth_doc(file);
  if (!doc["auths"].contains(host)) return false;
  doc["auths"].erase(host);
  write_auth_doc(file, doc);
  return true;
}

std::optional<AuthChallenge> parse_auth_challenge(std::string_view h) {
  if (h.size() > 8192) return std::nullopt;
  size_t i = 0;
  auto skip_space = [&] {
    while (i < h.size() && (h[i] == ' ' || h[i] == '\t')) ++i;
  };
  skip_space();
  size_t start = i;
  while (i < h.size() && std::isalpha(static_cast<unsigned char>(h[i]))) ++i;
  if (i == start) return std::nullopt;
  AuthChallenge c;
  c.scheme = lower_ascii(h.substr(start, i - start));
  while (true) {
    skip_space();
    if (i >= h.size()) break;
    size_t key_start = i;
    while (i < h.size() && (std::isalnum(static_cast<unsigned char>(h[i])) || h[i] == '_' || h[i] == '-')) ++i;
    if (i == key_start || i >= h.size() || h[i] != '=') return std::nullopt;
    std::string key = lower_ascii(h.substr(key_start, i - key_start));
    ++i;
    std::string value;
    if (i < h.size() && h[i] == '"') {
      ++i;
      bool closed = false;
      while (i < h.size()) {
        char ch = h[i++];
        if (ch == '\\' && i < h.size()) {
          value += h[i++];
        } else if (ch == '"') {
          closed = true;
          break;
        } else {
          value += ch;
        }
      }
      if (!closed) return std::nullopt;
    } else {
      while (i < h.size() && h[i] != ',' && h[i] != ' ') value += h[i++];
    }
    c.params[key] = value;
    skip_space();
    if (i < h.size()) {
      if (h[i] != ',') return std::nullopt;
      ++i;
    }
  }
  return c;
}

}  // namespace kiln::image
