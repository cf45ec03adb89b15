#include "engine/secret_store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>

#include "common/clock.hpp"
#include "common/error.hpp"
#include "common/files.hpp"

namespace kiln::engine {

namespace {

bool name_char(char c, bool first) {
  bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
  return alnum || (!first && (c == '_' || c == '.' || c == '-'));
}

// mkdir that also fixes the mode of an existing dir: the store must stay 0700 and root's.
void private_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) throw_errno("create " + path);
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) throw_errno("stat " + path);
  if (!S_ISDIR(st.st_mode)) throw Error("secret store " + path + ": not a directory");
  if ((st.st_mode & 07777) != 0700 && ::chmod(path.c_str(), 0700) != 0) throw_errno("chmod " + path);
  if (st.st_uid != ::geteuid() && ::chown(path.c_str(), ::geteuid(), ::getegid()) != 0) throw_errno("chown " + path);
}

class Lock {
 public:
  explicit Lock(const std::string& path) : fd_(open_file(path, O_RDWR | O_CREAT, 0600)) {
    while (::flock(fd_.get(), LOCK_EX) != 0)
      if (errno != EINTR) throw_errno("lock " + path);
  }

 private:
  UniqueFd fd_;
};

std::string meta_path(const std::string& dir, std::string_view name) {
  return dir + "/meta/" + std::string(name) + ".json";
}

SecretInfo parse_meta(const std::string& text, const std::string& path) {
  try {
    auto j = nlohmann::json::parse(text);
    return {j.at("name").get<std::string>(), j.at("size").get<uint64_t>(), j.at("created").get<std::string>()};
  } catch (const nlohmann::json::exception& e) {
    throw Error("malformed secret metadata " + path + ": " + e.what());
  }
}

std::string size_limit_text() { return std::to_string(kMaxSecretSize / 1024) + " KiB"; }

}  // namespace

bool valid_secret_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (size_t i = 0; i < name.size(); ++i)
    if (!name_char(name[i], i == 0)) return false;
  return true;
}

void check_secret_name(std::string_view name) {
  if (!valid_secret_name(name))
    throw Error("invalid secret name \"" + std::string(name) +
                "\": use 1-64 letters, digits, '_', '.', '-', starting with a letter or digit");
}

SecretStore::SecretStore(const std::string& kiln_root) : dir_(kiln_root + "/secrets") {
  mkdir_p(kiln_root, 0755);
  private_dir(dir_);
  private_dir(dir_ + "/values");
  private_dir(dir_ + "/meta");
}

SecretInfo SecretStore::create(std::string_view name, std::string_view value) const {
  check_secret_name(name);
  std::string n(name);
  if (value.empty()) throw Error("secret " + n + ": empty value");
  if (value.size() > kMaxSecretSize) throw Error("secret " + n + ": value larger than " + size_limit_text());
  Lock lock(dir_ + "/lock");
  if (path_exists(meta_path(dir_, name))) throw Error("secret " + n + " already exists");
  SecretInfo info{n, value.size(), now_rfc3339()};
  with_context("create secret " + n, [&] {
    write_file_atomic(value_path(name), value, 0600);
    nlohmann::json meta = {{"name", info.name}, {"size", info.size}, {"created", info.created}};
    write_file_atomic(meta_path(dir_, name), meta.dump() + "\n", 0600);
  });
  return info;
}

std::vector<SecretInfo> SecretStore::list() const {
  std::vector<SecretInfo> out;
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir((dir_ + "/meta").c_str()), ::closedir);
  if (!d) throw_errno("open " + dir_ + "/meta");
  while (struct dirent* e = ::readdir(d.get())) {
    std::string f = e->d_name;
    if (f.size() <= 5 || f.compare(f.size() - 5, 5, ".json") != 0) continue;  // skips temp files too
    std::string name = f.substr(0, f.size() - 5);
    if (!valid_secret_name(name)) continue;
    auto text = read_file_if_exists(meta_path(dir_, name));
    if (text) out.push_back(parse_meta(*text, meta_path(dir_, name)));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

bool SecretStore::exists(std::string_view name) const {
  return valid_secret_name(name) && path_exists(meta_path(dir_, name));
}

SecretInfo SecretStore::info(std::string_view name) const {
  check_secret_name(name);
  auto text = read_file_if_exists(meta_path(dir_, name));
  if (!text) throw Error("secret " + std::string(name) + " not found");
  return parse_meta(*text, meta_path(dir_, name));
}

SecretBuffer SecretStore::read(std::string_view name) const {
  SecretInfo meta = info(name);
  std::string path = value_path(name);
  int raw = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (raw < 0) {
    if (errno == ENOENT) throw Error("secret " + meta.name + " not found (value file missing)");
    throw_errno("open secret " + meta.name);
  }
  UniqueFd fd(raw);
  return read_secret_input(fd.get(), "secret " + meta.name);
}

void SecretStore::remove(std::string_view name) const {
  check_secret_name(name);
  std::string n(name);
  Lock lock(dir_ + "/lock");
  if (!path_exists(meta_path(dir_, name))) throw Error("secret " + n + " not found");
  // Metadata first: once it is gone the secret no longer exists for ls/run, even if the
  // value unlink below were interrupted.
  if (::unlink(meta_path(dir_, name).c_str()) != 0) throw_errno("remove secret " + n);
  if (::unlink(value_path(name).c_str()) != 0 && errno != ENOENT) throw_errno("remove secret " + n);
}

SecretBuffer read_secret_input(int fd, std::string_view what) {
  SecretBuffer buf;
  for (;;) {
    const size_t chunk = 16 * 1024;
    char* tail = buf.reserve_tail(chunk);
    ssize_t n = ::read(fd, tail, chunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("read " + std::string(what));
    }
    if (n == 0) break;
    buf.commit(static_cast<size_t>(n));
    if (buf.size() > kMaxSecretSize)
      throw Error(std::string(what) + ": value larger than " + size_limit_text());  // buf wipes itself
  }
  return buf;
}

}  // namespace kiln::engine
