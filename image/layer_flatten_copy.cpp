#include "image/layer_flatten_copy.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/dir_stream.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "common/in_root.hpp"
#include "common/unique_fd.hpp"
#include "common/user_namespace.hpp"

namespace kiln::image {
namespace {

std::string flat_shown(const std::string& path) { return path.empty() ? "/" : path; }
std::string flat_join(const std::string& dir, const std::string& name) { return dir.empty() ? name : dir + "/" + name; }

// "usr/bin/ls: copy_file_range: No space left on device".
[[noreturn]] void flat_fail(const std::string& path, const std::string& call, int err = errno) {
  throw_errno(flat_shown(path) + ": " + call, err);
}

bool flat_overlay_marker(const char* key) {
  return std::strncmp(key, "trusted.overlay.", 16) == 0 || std::strncmp(key, "user.overlay.", 13) == 0;
}

// Opaque as OverlayWhiteouts marks it: trusted.* as root, user.* in a user namespace (where
// trusted.* cannot even be read, so both are asked).
bool flat_is_opaque(int dir_fd, const std::string& path) {
  for (const char* key : {"trusted.overlay.opaque", "user.overlay.opaque"}) {
    char v[4];
    ssize_t n = ::fgetxattr(dir_fd, key, v, sizeof v);
    if (n == 1 && v[0] == 'y') return true;
    if (n < 0 && errno != ENODATA && errno != ENOTSUP && errno != ERANGE && errno != EPERM)
      flat_fail(path, std::string("fgetxattr ") + key);
  }
  return false;
}

// Where xattrs are read or written: an open fd, or for what is not opened (symlinks, devices,
// fifos) /proc/self/fd/<dir fd>/<name> with the l* calls, which do not follow `name`.
struct XattrNode {
  int fd = -1;
  std::string path;
  static XattrNode at(int dir_fd, const std::string& name) { return {-1, proc_fd_path(dir_fd) + "/" + name}; }
  ssize_t list(char* buf, size_t n) const {
    return fd >= 0 ? ::flistxattr(fd, buf, n) : ::llistxattr(path.c_str(), buf, n);
  }
  ssize_t get(const char* key, void* buf, size_t n) const {
    return fd >= 0 ? ::fgetxattr(fd, key, buf, n) : ::lgetxattr(path.c_str(), key, buf, n);
  }
  int set(const char* key, const void* value, size_t n) const {
    int r = fd >= 0 ? ::fsetxattr(fd, key, value, n, 0) : ::lsetxattr(path.c_str(), key, value, n, 0);
    return r == 0 ? 0 : errno;
  }
};

constexpr size_t kFlatMaxXattrBytes = 1 << 20;  // no inode lists more; a loop guard

// The xattr names of src (NUL-separated); empty when none, which is one syscall (the usual case).
std::vector<char> flat_xattr_names(const XattrNode& src, const std::string& path) {
  char small[1024];
  ssize_t n = src.list(small, sizeof small);
  if (n >= 0) return std::vector<char>(small, small + n);
  std::vector<char> names;
  while (n < 0) {
    if (errno == ENOTSUP) return {};
    if (errno != ERANGE) flat_fail(path, "listxattr");
    ssize_t want = src.list(nullptr, 0);
    if (want < 0) flat_fail(path, "listxattr");
    if (static_cast<size_t>(want) > kFlatMaxXattrBytes) flat_fail(path, "listxattr", E2BIG);
    names.resize(static_cast<size_t>(want) + 1);
    n = src.list(names.data(), names.size());
  }
  names.resize(static_cast<size_t>(n));
  return names;
}

// One copy of a directory tree, several threads taking directories off a shared stack.
class FlattenCopier {
 public:
  FlattenCopier(std::vector<UniqueFd> layers_top_first, int dest_fd)
      : layers_(std::move(layers_top_first)), dest_(dest_fd) {}

  void run(size_t threads) {
    auto root = std::make_shared<MergedDir>();
    root->out = dest_;
    for (auto& l : layers_) {
      root->sources.push_back(std::move(l));
      // An opaque layer root hides every lower layer, as `.wh..wh..opq` at "/" does in OCI.
      if (flat_is_opaque(root->sources.back().get(), "")) break;
    }
    // The rootfs dir itself keeps the mode, owner and times its maker gave it (as before).
    std::vector<Pending> children;
    copy_entries(root, children);
    push(std::move(children));
    root.reset();

    std::vector<std::thread> pool;
    for (size_t i = 1; i < threads; ++i) {
      try {
        pool.emplace_back([this] { work(); });
      } catch (const std::system_error&) {
        break;  // no thread to be had: fewer do the same work
      }
    }
    work();
    for (auto& t : pool) t.join();
    if (error_) std::rethrow_exception(error_);
  }

 private:
  // A directory of the merged tree: the layers' dirs it merges (top first, down to the first
  // opaque one) and the output dir.
  struct MergedDir {
    std::vector<UniqueFd> sources;
    UniqueFd own_out;
    int out = -1;
    std::string path;  // relative to the output root, "" for the root
  };
  // A subdirectory to copy: `name` in parent, a dir in parent->sources[layers[...]] (top first).
  struct Pending {
    std::shared_ptr<const MergedDir> parent;
    std::string name;
    std::vector<uint32_t> layers;
  };
  // A name as the layers of a merged dir have it.
  struct Entry {
    uint32_t top = 0;            // the layer that decides what it is
    unsigned char type = 0;      // DT_* in that layer
    bool closed = false;         // a non-dir was met: nothing lower counts
    std::vector<uint32_t> dirs;  // layers where it is a dir that merges (when type is DT_DIR)
  };
  struct InodeKey {
    dev_t dev;
    ino_t ino;
    bool operator==(const InodeKey&) const = default;
  };
  struct InodeHash {
    size_t operator()(const InodeKey& k) const { return std::hash<uint64_t>()(k.ino * 31 + k.dev); }
  };
  enum class Made { created, linked, skipped };

  void push(std::vector<Pending> items) {
    if (items.empty()) return;
    {
      std::lock_guard g(mu_);
      for (auto& p : items) stack_.push_back(std::move(p));
    }
    cv_.notify_all();
  }

  // Takes directories until none is left and none is being copied (which could add more).
  void work() {
    for (;;) {
      Pending p;
      {
        std::unique_lock l(mu_);
        cv_.wait(l, [&] { return failed_ || !stack_.empty() || busy_ == 0; });
        if (failed_ || stack_.empty()) return;
        p = std::move(stack_.back());  // last in, first out: depth first keeps few dirs open
        stack_.pop_back();
        ++busy_;
      }
      std::vector<Pending> children;
      try {
        copy_dir(std::move(p), children);
      } catch (...) {
        std::lock_guard g(mu_);
        if (!error_) error_ = std::current_exception();
        failed_ = true;
      }
      push(std::move(children));
      {
        std::lock_guard g(mu_);
        --busy_;
      }
      cv_.notify_all();
    }
  }

  UniqueFd open_source(int dir_fd, const std::string& name, int flags) {
    // O_NOATIME: copying must not change the stored layers (EPERM where we do not own them).
    if (noatime_.load(std::memory_order_relaxed)) {
      int fd = ::openat(dir_fd, name.c_str(), flags | O_NOATIME);
      if (fd >= 0 || errno != EPERM) return UniqueFd(fd);
      noatime_.store(false, std::memory_order_relaxed);
    }
    return UniqueFd(::openat(dir_fd, name.c_str(), flags));
  }

  void copy_dir(Pending p, std::vector<Pending>& children) {
    auto d = std::make_shared<MergedDir>();
    d->path = flat_join(p.parent->path, p.name);
    for (uint32_t idx : p.layers) {
      UniqueFd fd = open_source(p.parent->sources[idx].get(), p.name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (!fd) flat_fail(d->path, "openat layer dir");
      bool opaque = flat_is_opaque(fd.get(), d->path);
      d->sources.push_back(std::move(fd));
      if (opaque) break;
    }
    d->own_out = UniqueFd(::openat(p.parent->out, p.name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!d->own_out) flat_fail(d->path, "openat");
    d->out = d->own_out.get();
    p.parent.reset();
    copy_entries(d, children);
    // After the contents: creating entries would change the times again, and a default ACL or
    // setgid bit set earlier would be inherited by entries that are set explicitly anyway.
    struct stat st;
    int src = d->sources.front().get();
    if (::fstat(src, &st) != 0) flat_fail(d->path, "fstat");
    set_owner(d->out, "", AT_EMPTY_PATH, st, d->path);
    if (::fchmod(d->out, st.st_mode & 07777) != 0) flat_fail(d->path, "fchmod");
    copy_xattrs(XattrNode{src, {}}, XattrNode{d->out, {}}, d->path);
    struct timespec ts[2] = {st.st_atim, st.st_mtim};
    if (::futimens(d->out, ts) != 0) flat_fail(d->path, "futimens");
  }

  // The entries of one merged dir: every name once, from the layer that decides it.
  void copy_entries(const std::shared_ptr<MergedDir>& d, std::vector<Pending>& children) {
    std::unordered_map<std::string, Entry> entries;
    for (uint32_t i = 0; i < d->sources.size(); ++i) {
      int src = d->sources[i].get();
      DirStream ds(src, flat_shown(d->path));
      while (const dirent* de = ds.next()) {
        auto [it, fresh] = entries.try_emplace(de->d_name);
        Entry& e = it->second;
        if (e.closed) continue;
        unsigned char type = de->d_type;
        if (type == DT_UNKNOWN) {
          struct stat st;
          if (::fstatat(src, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            flat_fail(flat_join(d->path, de->d_name), "fstatat");
          type = IFTODT(st.st_mode);
        }
        if (fresh) {
          e.top = i;
          e.type = type;
        }
        if (type == DT_DIR) e.dirs.push_back(i);
        else e.closed = true;  // a file, link, device or whiteout: hides what lies below
      }
    }
    for (auto& [name, e] : entries) {
      std::string path = flat_join(d->path, name);
      if (e.type == DT_DIR) {
        // Made now, finished (mode, owner, times) when its own contents are done.
        if (::mkdirat(d->out, name.c_str(), 0700) != 0) flat_fail(path, "mkdirat");
        children.push_back(Pending{d, name, std::move(e.dirs)});
      } else {
        copy_nondir(d->sources[e.top].get(), d->out, name, e.type, path);
      }
    }
  }

  void copy_nondir(int src_dir, int out_dir, const std::string& name, unsigned char type, const std::string& path) {
    if (type == DT_SOCK) return;  // sockets are not content (tar skips them too)
    if (type == DT_REG) return copy_file(src_dir, out_dir, name, path);
    struct stat st;
    if (::fstatat(src_dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) flat_fail(path, "fstatat");
    if (S_ISCHR(st.st_mode) && st.st_rdev == ::makedev(0, 0)) return;  // a whiteout
    if (S_ISLNK(st.st_mode)) return copy_symlink(src_dir, out_dir, name, st, path);
    if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISFIFO(st.st_mode))
      return copy_node(out_dir, name, st, path, XattrNode::at(src_dir, name));
    if (S_ISREG(st.st_mode)) return copy_file(src_dir, out_dir, name, path);
    if (S_ISSOCK(st.st_mode)) return;
    throw Error(path + ": unsupported file type " + std::to_string(st.st_mode & S_IFMT));
  }

  void copy_file(int src_dir, int out_dir, const std::string& name, const std::string& path) {
    // O_NONBLOCK: should the entry have become a fifo, opening it must not hang.
    UniqueFd in = open_source(src_dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (!in) flat_fail(path, "openat layer file");
    struct stat st;
    if (::fstat(in.get(), &st) != 0) flat_fail(path, "fstat");
    if (!S_ISREG(st.st_mode)) throw Error(path + ": changed type while being copied");
    UniqueFd out;
    Made m = make_or_link(st, out_dir, name, path, [&] {
      out = UniqueFd(::openat(out_dir, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
      if (!out) flat_fail(path, "openat O_CREAT");
      return true;
    });
    if (m != Made::created) return;
    copy_data(in.get(), out.get(), path);
    // Order matters: writing clears setuid and file capabilities, chown clears them too.
    set_owner(out.get(), "", AT_EMPTY_PATH, st, path);
    if (::fchmod(out.get(), st.st_mode & 07777) != 0) flat_fail(path, "fchmod");
    copy_xattrs(XattrNode{in.get(), {}}, XattrNode{out.get(), {}}, path);
    struct timespec ts[2] = {st.st_atim, st.st_mtim};
    if (::futimens(out.get(), ts) != 0) flat_fail(path, "futimens");
  }

  void copy_symlink(int src_dir, int out_dir, const std::string& name, const struct stat& st, const std::string& path) {
    std::string target(static_cast<size_t>(std::max<off_t>(st.st_size, 0)) + 1, '\0');
    for (;;) {
      ssize_t n = ::readlinkat(src_dir, name.c_str(), target.data(), target.size());
      if (n < 0) flat_fail(path, "readlinkat");
      if (static_cast<size_t>(n) < target.size()) {
        target.resize(static_cast<size_t>(n));
        break;
      }
      if (target.size() > PATH_MAX) flat_fail(path, "readlinkat", ENAMETOOLONG);
      target.resize(target.size() * 2);
    }
    Made m = make_or_link(st, out_dir, name, path, [&] {
      if (::symlinkat(target.c_str(), out_dir, name.c_str()) != 0) flat_fail(path, "symlinkat");
      return true;
    });
    if (m != Made::created) return;
    set_owner(out_dir, name.c_str(), AT_SYMLINK_NOFOLLOW, st, path);
    copy_xattrs(XattrNode::at(src_dir, name), XattrNode::at(out_dir, name), path);
    struct timespec ts[2] = {st.st_atim, st.st_mtim};
    if (::utimensat(out_dir, name.c_str(), ts, AT_SYMLINK_NOFOLLOW) != 0) flat_fail(path, "utimensat");
  }

  void copy_node(int out_dir, const std::string& name, const struct stat& st, const std::string& path,
                 const XattrNode& src) {
    Made m = make_or_link(st, out_dir, name, path, [&] {
      if (::mknodat(out_dir, name.c_str(), (st.st_mode & S_IFMT) | 0600, st.st_rdev) == 0) return true;
      // A device cannot be made in a user namespace; containers get theirs from the runtime
      // (layer_unpack.cpp skips them the same way).
      if (errno == EPERM && in_user_ns_ && !S_ISFIFO(st.st_mode)) {
        spdlog::debug("device {} not made in a user namespace", path);
        return false;
      }
      flat_fail(path, "mknodat");
    });
    if (m != Made::created) return;
    set_owner(out_dir, name.c_str(), AT_SYMLINK_NOFOLLOW, st, path);
    if (::fchmodat(out_dir, name.c_str(), st.st_mode & 07777, AT_SYMLINK_NOFOLLOW) != 0) flat_fail(path, "fchmodat");
    copy_xattrs(src, XattrNode::at(out_dir, name), path);
    struct timespec ts[2] = {st.st_atim, st.st_mtim};
    if (::utimensat(out_dir, name.c_str(), ts, AT_SYMLINK_NOFOLLOW) != 0) flat_fail(path, "utimensat");
  }

  // An inode with several names in its layer: the first name copied makes it (create() runs
  // under the lock, so a second thread that finds the inode links to a name that exists), the
  // others become hardlinks of it. create() returns false when it made nothing.
  template <typename Create>
  Made make_or_link(const struct stat& st, int out_dir, const std::string& name, const std::string& path,
                    Create create) {
    if (st.st_nlink <= 1) return create() ? Made::created : Made::skipped;
    std::string target;
    {
      std::lock_guard g(links_mu_);
      auto [it, fresh] = links_.try_emplace(InodeKey{st.st_dev, st.st_ino}, path);
      if (fresh) {
        if (create()) return Made::created;
        links_.erase(it);
        return Made::skipped;
      }
      target = it->second;
    }
    // The target's dirs are ones this copy made: refusing symlinks on the way costs nothing.
    auto slash = target.rfind('/');
    UniqueFd parent;
    if (slash != std::string::npos)
      parent = open_in_root(dest_, target.substr(0, slash), O_PATH | O_DIRECTORY, 0, Symlinks::refuse);
    std::string last = slash == std::string::npos ? target : target.substr(slash + 1);
    if (::linkat(parent ? parent.get() : dest_, last.c_str(), out_dir, name.c_str(), 0) != 0)
      flat_fail(path, "linkat " + target);
    return Made::linked;
  }

  void copy_data(int in, int out, const std::string& path) {
    for (;;) {
      ssize_t n = ::copy_file_range(in, nullptr, out, nullptr, size_t{1} << 30, 0);
      if (n > 0) continue;
      if (n == 0) return;
      if (errno == EINTR) continue;
      if (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP) break;
      flat_fail(path, "copy_file_range");
    }
    // Not offered between these filesystems: plain reads and writes, from where it stopped.
    std::vector<char> buf(size_t{256} << 10);
    for (;;) {
      ssize_t n = ::read(in, buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) flat_fail(path, "read");
      if (n == 0) return;
      write_all(out, std::string_view(buf.data(), static_cast<size_t>(n)), flat_shown(path) + ": write");
    }
  }

  void set_owner(int fd, const char* name, int flags, const struct stat& st, const std::string& path) {
    if (!is_root_) return;  // rootless: files stay ours, as the tar unpack leaves them
    if (::fchownat(fd, name, st.st_uid, st.st_gid, flags) == 0) return;
    // In a user namespace an id it does not map is folded onto its root (as layer_unpack.cpp).
    if (errno != EINVAL || !in_user_ns_) flat_fail(path, "fchownat");
    if (::fchownat(fd, name, 0, 0, flags) != 0) flat_fail(path, "fchownat");
  }

  void copy_xattrs(const XattrNode& src, const XattrNode& dst, const std::string& path) {
    std::vector<char> names = flat_xattr_names(src, path);
    std::vector<char> value;
    for (size_t at = 0; at < names.size();) {
      const char* key = names.data() + at;
      at += std::strlen(key) + 1;
      if (flat_overlay_marker(key)) continue;  // the store's whiteout bookkeeping, not content
      ssize_t n = src.get(key, nullptr, 0);
      if (n < 0 && errno == ENODATA) continue;
      if (n < 0) flat_fail(path, std::string("getxattr ") + key);
      value.resize(static_cast<size_t>(n));
      n = src.get(key, value.data(), value.size());
      if (n < 0) flat_fail(path, std::string("getxattr ") + key);
      int err = dst.set(key, value.data(), static_cast<size_t>(n));
      // As layer_unpack.cpp: what the filesystem or an unprivileged user cannot set is skipped.
      if (err == ENOTSUP || (err == EPERM && (!is_root_ || in_user_ns_))) {
        spdlog::debug("{}: xattr {} not set: {}", path, key, std::strerror(err));
        continue;
      }
      if (err) flat_fail(path, std::string("setxattr ") + key, err);
    }
  }

  std::vector<UniqueFd> layers_;
  int dest_;
  bool is_root_ = ::geteuid() == 0;
  bool in_user_ns_ = !in_initial_user_namespace();
  std::atomic<bool> noatime_{true};

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Pending> stack_;
  size_t busy_ = 0;
  bool failed_ = false;
  std::exception_ptr error_;

  std::mutex links_mu_;
  std::unordered_map<InodeKey, std::string, InodeHash> links_;
};

size_t flatten_copy_threads(size_t asked) {
  if (asked) return asked;
  cpu_set_t set;
  size_t n = ::sched_getaffinity(0, sizeof set, &set) == 0 ? static_cast<size_t>(CPU_COUNT(&set))
                                                           : std::thread::hardware_concurrency();
  return std::clamp<size_t>(n, 1, kMaxFlattenCopyThreads);
}

}  // namespace

void flatten_copy_layers(const std::vector<std::string>& layer_dirs, int dest_fd, const FlattenCopyOptions& options) {
  std::vector<UniqueFd> top_first;
  for (auto it = layer_dirs.rbegin(); it != layer_dirs.rend(); ++it)
    top_first.push_back(open_file(*it, O_RDONLY | O_DIRECTORY));
  FlattenCopier(std::move(top_first), dest_fd).run(flatten_copy_threads(options.threads));
}

}  // namespace kiln::image
