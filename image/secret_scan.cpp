#include "image/secret_scan.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <memory>

#include "common/error.hpp"
#include "common/unique_fd.hpp"

namespace kiln::image {

namespace {

constexpr size_t kHeadBytes = 16 * 1024;
constexpr off_t kMaxScannedFile = 256 * 1024;
constexpr int kMaxDepth = 128;

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
bool contains(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }

// The first bytes of a regular file (nothing for anything else, or a large file).
std::string read_head(int dirfd, const std::string& name, const struct stat& st) {
  if (!S_ISREG(st.st_mode) || st.st_size > kMaxScannedFile) return {};
  int raw = ::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (raw < 0) return {};
  UniqueFd fd(raw);
  struct stat again{};
  if (::fstat(fd.get(), &again) != 0 || !S_ISREG(again.st_mode)) return {};
  std::string buf(kHeadBytes, '\0');
  size_t got = 0;
  while (got < buf.size()) {
    ssize_t n = ::read(fd.get(), buf.data() + got, buf.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  buf.resize(got);
  return buf;
}

bool has_private_key_block(std::string_view head) {
  size_t pos = 0;
  while ((pos = head.find("-----BEGIN ", pos)) != std::string_view::npos) {
    size_t end = head.find("-----", pos + 11);
    if (end == std::string_view::npos) return false;
    std::string_view label = head.substr(pos + 11, end - pos - 11);
    if (label.size() < 80 && ends_with(label, "PRIVATE KEY")) return true;
    pos = end + 5;
  }
  return false;
}

// A KEY=non-empty line with a credential-like KEY ("export " prefixes allowed).
bool dotenv_has_secret(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    if (line.substr(0, 7) == "export ") line.remove_prefix(7);
    size_t eq = line.find('=');
    if (eq == std::string_view::npos || line[0] == '#') continue;
    std::string_view key = line.substr(0, eq);
    while (!key.empty() && key.back() == ' ') key.remove_suffix(1);
    std::string_view value = line.substr(eq + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '"' || value.front() == '\'')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '"' || value.back() == '\'' || value.back() == ' ')) value.remove_suffix(1);
    if (!value.empty() && credential_like_name(key)) return true;
  }
  return false;
}

bool docker_config_has_auth(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return contains(text, "\"auth\"");  // truncated: be cautious
  auto auths = j.find("auths");
  if (auths == j.end() || !auths->is_object()) return false;
  for (const auto& [host, entry] : auths->items()) {
    if (!entry.is_object()) continue;
    for (const char* k : {"auth", "identitytoken", "password", "registrytoken"}) {
      auto v = entry.find(k);
      if (v != entry.end() && v->is_string() && !v->get<std::string>().empty()) return true;
    }
  }
  return false;
}

// The kind of secret a file looks like, or "" when it looks harmless.
std::string classify(const std::string& rel, const std::string& name, int dirfd, const struct stat& st) {
  if (!S_ISREG(st.st_mode)) return {};
  if (name == "id_rsa" || name == "id_dsa" || name == "id_ecdsa" || name == "id_ed25519" ||
      name == "id_ecdsa_sk" || name == "id_ed25519_sk")
    return "ssh-private-key";
  if (ends_with(rel, "/.aws/credentials") || rel == ".aws/credentials") return "aws-credentials";
  if (name == ".git-credentials") return st.st_size > 0 ? "git-credentials" : "";
  std::string head = read_head(dirfd, name, st);
  if (head.empty()) return {};
  if (name == ".npmrc")
    return contains(head, "_authToken") || contains(head, "_auth") || contains(head, "_password") ? "npm-token" : "";
  if (name == ".pypirc") return contains(head, "password") ? "pypi-password" : "";
  if (name == "config.json" && (ends_with(rel, "/.docker/config.json") || rel == ".docker/config.json"))
    return docker_config_has_auth(head) ? "docker-auth" : "";
  if ((name == ".env" || ends_with(name, ".env") || name.rfind(".env.", 0) == 0) && dotenv_has_secret(head)) return "dotenv";
  if (has_private_key_block(head)) return "private-key";
  return {};
}

void walk(int dirfd, const std::string& rel, int depth, std::vector<SecretFinding>& out) {
  if (depth > kMaxDepth) return;
  int dupfd = ::dup(dirfd);
  if (dupfd < 0) throw_errno("scan " + rel);
  std::unique_ptr<DIR, int (*)(DIR*)> d(::fdopendir(dupfd), ::closedir);
  if (!d) {
    ::close(dupfd);
    throw_errno("scan " + rel);
  }
  while (struct dirent* e = ::readdir(d.get())) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    std::string path = rel.empty() ? name : rel + "/" + name;
    struct stat st{};
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      int sub = ::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub < 0) continue;
      UniqueFd subfd(sub);
      walk(subfd.get(), path, depth + 1, out);
      continue;
    }
    std::string kind = classify(path, name, dirfd, st);
    if (!kind.empty()) out.push_back({kind, -1, "", "/" + path});
  }
}

}  // namespace

bool credential_like_name(std::string_view name) {
  std::string n = upper(name);
  for (const char* safe : {"_FILE", "_PATH", "_DIR"})
    if (ends_with(n, safe)) return false;
  if (contains(n, "GPG") || contains(n, "PUBLIC")) return false;
  for (const char* word : {"PASSWORD", "PASSWD", "PASSPHRASE", "SECRET", "TOKEN", "CREDENTIAL", "API_KEY", "APIKEY",
                           "ACCESS_KEY", "PRIVATE_KEY", "AUTH_KEY"})
    if (contains(n, word)) return true;
  return n == "KEY" || ends_with(n, "_KEY") || n == "PASS" || ends_with(n, "_PASS") || ends_with(n, "_PWD");
}

std::vector<SecretFinding> scan_env(const std::vector<std::string>& env) {
  std::vector<SecretFinding> out;
  for (const auto& e : env) {
    size_t eq = e.find('=');
    if (eq == std::string::npos || eq + 1 == e.size()) continue;
    std::string key = e.substr(0, eq);
    if (credential_like_name(key)) out.push_back({"env", -1, "", "Env " + key});
  }
  return out;
}

std::vector<SecretFinding> scan_layer_dir(const std::string& dir) {
  int raw = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (raw < 0) throw_errno("scan layer " + dir);
  UniqueFd fd(raw);
  std::vector<SecretFinding> out;
  with_context("scan layer " + dir, [&] { walk(fd.get(), "", 0, out); });
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
  return out;
}

std::vector<SecretFinding> scan_image(const Store& store, const Image& image) {
  auto out = scan_env(image.config.config.env);
  auto dirs = store.layer_dirs(image);
  for (size_t i = 0; i < dirs.size(); ++i) {
    for (auto& f : scan_layer_dir(dirs[i])) {
      f.layer = static_cast<int>(i);
      if (i < image.record.layers.size()) f.diff_id = image.record.layers[i].diff_id.str();
      out.push_back(std::move(f));
    }
  }
  return out;
}

std::string describe(const SecretFinding& f) {
  if (f.layer < 0) return "config " + f.path + ": " + f.kind;
  std::string id = f.diff_id.size() > 19 ? f.diff_id.substr(0, 19) : f.diff_id;  // "sha256:" + 12 hex
  return "layer " + std::to_string(f.layer) + " (" + id + ") " + f.path + ": " + f.kind;
}

nlohmann::json findings_json(const std::vector<SecretFinding>& findings) {
  auto out = nlohmann::json::array();
  for (const auto& f : findings) {
    nlohmann::json j = {{"kind", f.kind}, {"path", f.path}};
    if (f.layer < 0) {
      j["source"] = "config";
    } else {
      j["source"] = "layer";
      j["layer"] = f.layer;
      j["diff_id"] = f.diff_id;
    }
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace kiln::image
