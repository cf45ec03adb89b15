#include "image/layer_tar_writer.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "common/dir_stream.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "image/tar_writer.hpp"

namespace kiln::image {
namespace {

class LayerWalker {
 public:
  LayerWalker(int out_fd, int64_t epoch) : tar_(out_fd), epoch_(epoch) {}

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
      return;
    }
    // Sockets have no tar form (docker skips them too).
  }

  TarWriter tar_;
  int64_t epoch_;
  std::map<std::pair<dev_t, ino_t>, std::string> links_;
};

}  // namespace

void write_layer_tar(const std::string& dir, const std::string& out_path, int64_t epoch) {
  UniqueFd out = open_file(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  UniqueFd root = open_file(dir, O_RDONLY | O_DIRECTORY);
  LayerWalker w(out.get(), epoch);
  w.walk(root.get(), "");
  w.finish();
}

}  // namespace kiln::image
