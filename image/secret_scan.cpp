#include "image/secret_scan.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <initializer_list>
#include <memory>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "common/dir_stream.hpp"
#include "common/unique_fd.hpp"

namespace kiln::image {

namespace {

constexpr size_t kChunk = 64 * 1024;
// Config files (.npmrc, docker's config.json ...) are parsed whole up to this size.
constexpr size_t kMaxConfigFile = 4 << 20;
constexpr size_t kMaxLine = 64 * 1024;

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
bool contains(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }

// Opens a regular file of the layer for reading, never following a symlink or blocking on a FIFO.
UniqueFd open_regular(int dirfd, const std::string& name) {
  UniqueFd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  struct stat st {};
  if (!fd || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return UniqueFd();
  return fd;
}

// Streams a whole file through `chunk`, each call seeing the last `overlap` bytes of the
// previous chunk again first, so a pattern across a chunk boundary is still found. A key
// after the first bytes, or in a huge file, is found all the same.
template <typename F>
void stream_file(int fd, size_t overlap, F&& chunk) {
  std::string buf;
  std::vector<char> block(kChunk);
  for (;;) {
    ssize_t n = ::read(fd, block.data(), block.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    buf.append(block.data(), static_cast<size_t>(n));
    if (chunk(std::string_view(buf))) return;
    if (buf.size() > overlap) buf.erase(0, buf.size() - overlap);
  }
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
    while (!value.empty() && (value.front() == ' ' || value.front() == '"' || value.front() == '\''))
      value.remove_prefix(1);
    while (!value.empty() &&
           (value.back() == '\r' || value.back() == '"' || value.back() == '\'' || value.back() == ' '))
      value.remove_suffix(1);
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

bool file_has_private_key(int fd) {
  bool found = false;
  // A PEM header line is short: 11 + a label under 80 + 5.
  stream_file(fd, 128, [&](std::string_view text) { return found = has_private_key_block(text); });
  return found;
}

bool file_contains_any(int fd, std::initializer_list<std::string_view> words) {
  bool found = false;
  stream_file(fd, 32, [&](std::string_view text) {
    for (auto w : words)
      if (contains(text, w)) return found = true;
    return false;
  });
  return found;
}

// Line by line, so a credential far down a long .env is found; an endless line is cut.
bool file_dotenv_has_secret(int fd) {
  bool found = false;
  std::string line;
  stream_file(fd, 0, [&](std::string_view chunk) {
    for (char c : chunk) {
      if (c != '\n') {
        if (line.size() < kMaxLine) line += c;
      } else if ((found = dotenv_has_secret(line))) {
        return true;
      } else {
        line.clear();
      }
    }
    return false;
  });
  return found || dotenv_has_secret(line);
}

// The whole file up to just past kMaxConfigFile (the caller tells a too-big one by its size).
std::string read_config_file(int fd) {
  std::string out;
  stream_file(fd, 0, [&](std::string_view chunk) {
    out.append(chunk);
    return out.size() > kMaxConfigFile;
  });
  return out;
}

// The kind of secret a file looks like, or "" when it looks harmless. Every regular file is
// read to its end (streamed, never whole in memory, except small config files).
std::string classify(const std::string& rel, const std::string& name, int dirfd, const struct stat& st) {
  if (!S_ISREG(st.st_mode)) return {};
  if (name == "id_rsa" || name == "id_dsa" || name == "id_ecdsa" || name == "id_ed25519" || name == "id_ecdsa_sk" ||
      name == "id_ed25519_sk")
    return "ssh-private-key";
  if (ends_with(rel, "/.aws/credentials") || rel == ".aws/credentials") return "aws-credentials";
  if (name == ".git-credentials") return st.st_size > 0 ? "git-credentials" : "";
  UniqueFd fd = open_regular(dirfd, name);
  if (!fd) return {};
  auto rewind = [&] { ::lseek(fd.get(), 0, SEEK_SET); };
  if (name == ".npmrc") {
    if (file_contains_any(fd.get(), {"_authToken", "_auth", "_password"})) return "npm-token";
    rewind();
  } else if (name == ".pypirc") {
    if (file_contains_any(fd.get(), {"password"})) return "pypi-password";
    rewind();
  } else if (name == "config.json" && (ends_with(rel, "/.docker/config.json") || rel == ".docker/config.json")) {
    std::string text = read_config_file(fd.get());
    // Too big to be a real one: flag it when it mentions an auth at all.
    bool auth = text.size() > kMaxConfigFile ? contains(text, "\"auth") : docker_config_has_auth(text);
    if (auth) return "docker-auth";
    rewind();
  } else if (name == ".env" || ends_with(name, ".env") || name.rfind(".env.", 0) == 0) {
    if (file_dotenv_has_secret(fd.get())) return "dotenv";
    rewind();
  }
  if (file_has_private_key(fd.get())) return "private-key";
  return {};
}

// Depth-first over the layer without recursion and with two directory fds at most, however
// deep the tree: going down closes the parent, coming back up opens ".." of the child (a real
// directory entry, never a symlink) and checks it is the same directory as before.
void walk(int root_fd, std::vector<SecretFinding>& out) {
  struct Frame {
    std::string rel;  // "" for the layer root
    dev_t dev;
    ino_t ino;
    std::vector<std::string> subdirs;  // still to visit, in reverse order
  };
  auto identity = [](int fd, const std::string& rel) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw_errno("scan " + (rel.empty() ? std::string("/") : rel));
    return st;
  };
  // Lists one directory: classifies its files, returns its subdirectories.
  auto list = [&](int fd, const std::string& rel) {
    std::vector<std::string> subdirs;
    DirStream d(fd, rel.empty() ? "/" : rel);
    while (const struct dirent* e = d.next()) {
      std::string name = e->d_name;
      std::string path = rel.empty() ? name : rel + "/" + name;
      struct stat st {};
      if (::fstatat(fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
      if (S_ISDIR(st.st_mode)) {
        subdirs.push_back(name);
        continue;
      }
      std::string kind = classify(path, name, fd, st);
      if (!kind.empty()) out.push_back({kind, -1, "", "/" + path});
    }
    std::reverse(subdirs.begin(), subdirs.end());
    return subdirs;
  };

  UniqueFd cur(::fcntl(root_fd, F_DUPFD_CLOEXEC, 0));
  if (!cur) throw_errno("scan: dup");
  struct stat rst = identity(cur.get(), "");
  std::vector<Frame> stack;
  stack.push_back({"", rst.st_dev, rst.st_ino, list(cur.get(), "")});
  while (!stack.empty()) {
    Frame& top = stack.back();
    if (top.subdirs.empty()) {
      stack.pop_back();
      if (stack.empty()) break;
      UniqueFd up(::openat(cur.get(), "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (!up) throw_errno("scan " + stack.back().rel + ": open ..");
      struct stat ust = identity(up.get(), stack.back().rel);
      if (ust.st_dev != stack.back().dev || ust.st_ino != stack.back().ino)
        throw Error("scan " + stack.back().rel + ": the layer changed while it was scanned");
      cur = std::move(up);
      continue;
    }
    std::string name = std::move(top.subdirs.back());
    top.subdirs.pop_back();
    std::string rel = top.rel.empty() ? name : top.rel + "/" + name;
    UniqueFd sub(::openat(cur.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!sub) continue;  // vanished or replaced by a non-directory: nothing to read there
    struct stat sst = identity(sub.get(), rel);
    cur = std::move(sub);
    stack.push_back({rel, sst.st_dev, sst.st_ino, list(cur.get(), rel)});
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
  with_context("scan layer " + dir, [&] { walk(fd.get(), out); });
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
