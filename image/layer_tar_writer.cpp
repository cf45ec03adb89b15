#include "image/layer_tar_writer.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "common/dir_stream.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "image/digest.hpp"
#include "image/tar_writer.hpp"

namespace kiln::image {
namespace {

// Removes every xattr of an entry but `keep` (when its value is keep_value, if given): through
// the entry's fd, or for what cannot be opened (symlinks, devices) through /proc/self/fd.
void strip_xattrs(int fd, const std::string& proc_path, const char* keep, const char* keep_value,
                  const std::string& what) {
  bool by_fd = proc_path.empty();
  std::vector<char> names(1024);
  ssize_t n;
  for (;;) {
    n = by_fd ? ::flistxattr(fd, names.data(), names.size())
              : ::llistxattr(proc_path.c_str(), names.data(), names.size());
    if (n >= 0) break;
    if (errno == ENOTSUP) return;
    if (errno != ERANGE || names.size() > (1u << 20)) throw_errno("layer: list xattrs of " + what);
    names.resize(names.size() * 4);
  }
  for (ssize_t at = 0; at < n;) {
    std::string name(names.data() + at);
    at += static_cast<ssize_t>(name.size()) + 1;
    if (keep && name == keep) {
      if (!keep_value) continue;
      char v[8];
      ssize_t len = ::fgetxattr(fd, name.c_str(), v, sizeof v);
      if (len == static_cast<ssize_t>(std::strlen(keep_value)) && std::memcmp(v, keep_value, len) == 0) continue;
    }
    int r = by_fd ? ::fremovexattr(fd, name.c_str()) : ::lremovexattr(proc_path.c_str(), name.c_str());
    if (r != 0 && errno != ENODATA) throw_errno("layer: remove xattr " + name + " of " + what);
  }
}

class LayerWalker {
 public:
  // normalize: also make each entry what unpacking its tar entry gives (see the header).
  LayerWalker(int out_fd, int64_t epoch, bool normalize) : tar_(out_fd), epoch_(epoch), normalize_(normalize) {}
  void hash_into(Sha256* h) { tar_.hash_into(h); }

  void finish() { tar_.finish(); }

  // Walks dir_fd (the directory at `rel`, "" for the root) in byte order of names.
  void walk(int dir_fd, const std::string& rel) {
    std::vector<std::string> names;
    {
      UniqueFd again = open_in_dir(dir_fd, ".", O_RDONLY | O_DIRECTORY);
      DirStream ds(again.get(), rel.empty() ? "/" : rel);
      while (const dirent* e = ds.next()) {
        std::string n = e->d_name;
        if (n != "." && n != "..") names.push_back(n);
      }
    }
    std::sort(names.begin(), names.end());
    for (const auto& n : names) entry(dir_fd, rel, n);
  }

 private:
  static UniqueFd open_in_dir(int dir_fd, const std::string& name, int flags) {
    int fd = ::openat(dir_fd, name.c_str(), flags | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) throw_errno("layer tar: open " + name);
    return UniqueFd(fd);
  }

  TarEntry base(const std::string& path, const struct stat& st, TarEntry::Type type) const {
    TarEntry e;
    e.type = type;
    e.path = path;
    e.uid = st.st_uid;
    e.gid = st.st_gid;
    e.mode = st.st_mode & 07777;
    e.mtime = std::min<int64_t>(st.st_mtime, epoch_);
    return e;
  }

  void marker(const std::string& path) {  // an empty regular file: a whiteout
    TarEntry e;
    e.path = path;
    e.mode = 0;
    e.mtime = std::min<int64_t>(0, epoch_);
    tar_.header(e);
  }

  void entry(int dir_fd, const std::string& rel, const std::string& name) {
    std::string path = rel.empty() ? name : rel + "/" + name;
    struct stat st;
    if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) throw_errno("layer tar: stat " + path);
    if (normalize_ && S_ISSOCK(st.st_mode)) {  // no tar form: not in the unpacked layer either
      if (::unlinkat(dir_fd, name.c_str(), 0) != 0) throw_errno("layer: remove socket " + path);
      return;
    }
    if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) {
      marker(rel.empty() ? ".wh." + name : rel + "/.wh." + name);
      return;
    }
    if (S_ISDIR(st.st_mode)) {
      UniqueFd d = open_in_dir(dir_fd, name, O_RDONLY | O_DIRECTORY);
      tar_.header(base(path, st, TarEntry::Type::dir));
      char v[4];
      ssize_t n = ::fgetxattr(d.get(), "trusted.overlay.opaque", v, sizeof v);
      if (n == 1 && v[0] == 'y') marker(path + "/.wh..wh..opq");
      walk(d.get(), path);
      if (normalize_) {  // after the walk: removing a socket changed the dir's times
        strip_xattrs(d.get(), "", "trusted.overlay.opaque", "y", path);
        set_times(d.get(), "", st, path);
      }
      return;
    }
    if (S_ISLNK(st.st_mode)) {
      std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
      ssize_t n = ::readlinkat(dir_fd, name.c_str(), target.data(), target.size());
      if (n < 0) throw_errno("layer tar: readlink " + path);
      target.resize(static_cast<size_t>(n));
      TarEntry e = base(path, st, TarEntry::Type::symlink);
      e.link = target;
      tar_.header(e);
      normalize_by_name(dir_fd, name, st, path);
      return;
    }
    if (S_ISREG(st.st_mode)) {
      if (st.st_nlink > 1) {
        auto key = std::make_pair(st.st_dev, st.st_ino);
        auto it = links_.find(key);
        if (it != links_.end()) {
          TarEntry e = base(path, st, TarEntry::Type::hardlink);
          e.link = it->second;
          tar_.header(e);
          return;
        }
        links_[key] = path;
      }
      UniqueFd f = open_in_dir(dir_fd, name, O_RDONLY);
      TarEntry e = base(path, st, TarEntry::Type::file);
      e.size = static_cast<uint64_t>(st.st_size);
      char cap[256];
      ssize_t n = ::fgetxattr(f.get(), "security.capability", cap, sizeof cap);
      if (n > 0) e.xattrs.push_back({"security.capability", std::string(cap, static_cast<size_t>(n))});
      tar_.header(e);
      tar_.data_from_fd(f.get(), e.size, path);
      if (normalize_) {
        strip_xattrs(f.get(), "", "security.capability", nullptr, path);
        set_times(f.get(), "", st, path);
      }
      return;
    }
    if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISFIFO(st.st_mode)) {
      TarEntry e = base(path, st,
                        S_ISCHR(st.st_mode)   ? TarEntry::Type::chr
                        : S_ISBLK(st.st_mode) ? TarEntry::Type::blk
                                              : TarEntry::Type::fifo);
      e.dev_major = major(st.st_rdev);
      e.dev_minor = minor(st.st_rdev);
      tar_.header(e);
      normalize_by_name(dir_fd, name, st, path);
      return;
    }
    // Sockets have no tar form (docker skips them too).
  }

  // The unpacker's times: atime = mtime = the tar's (clamped, whole seconds).
  void set_times(int fd, const char* name, const struct stat& st, const std::string& path) const {
    struct timespec ts[2];
    ts[0].tv_sec = ts[1].tv_sec = static_cast<time_t>(std::min<int64_t>(st.st_mtime, epoch_));
    ts[0].tv_nsec = ts[1].tv_nsec = 0;
    int r = *name ? ::utimensat(fd, name, ts, AT_SYMLINK_NOFOLLOW) : ::futimens(fd, ts);
    if (r != 0) throw_errno("layer: set times of " + path);
  }

  void normalize_by_name(int dir_fd, const std::string& name, const struct stat& st, const std::string& path) const {
    if (!normalize_) return;
    strip_xattrs(-1, "/proc/self/fd/" + std::to_string(dir_fd) + "/" + name, nullptr, nullptr, path);
    set_times(dir_fd, name.c_str(), st, path);
  }

  TarWriter tar_;
  int64_t epoch_;
  bool normalize_ = false;
  std::map<std::pair<dev_t, ino_t>, std::string> links_;
};

}  // namespace

void write_layer_tar(const std::string& dir, const std::string& out_path, int64_t epoch) {
  UniqueFd out = open_file(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  UniqueFd root = open_file(dir, O_RDONLY | O_DIRECTORY);
  LayerWalker w(out.get(), epoch, false);
  w.walk(root.get(), "");
  w.finish();
}

LayerTarResult write_layer_tar_in_place(const std::string& dir, const std::string& out_path, int64_t epoch) {
  UniqueFd out = open_file(out_path, O_WRONLY | O_CREAT | O_EXCL, 0644);
  UniqueFd root = open_file(dir, O_RDONLY | O_DIRECTORY);
  // The root has no tar entry: the unpacker's is a fresh 0755 dir of root's.
  if (::fchown(root.get(), 0, 0) != 0 || ::fchmod(root.get(), 0755) != 0) throw_errno("layer: reset the root " + dir);
  strip_xattrs(root.get(), "", nullptr, nullptr, dir);
  Sha256 h;
  LayerWalker w(out.get(), epoch, true);
  w.hash_into(&h);
  w.walk(root.get(), "");
  w.finish();
  struct stat st;
  if (::fstat(out.get(), &st) != 0) throw_errno("stat " + out_path);
  return {h.finish(), static_cast<uint64_t>(st.st_size)};
}

}  // namespace kiln::image
