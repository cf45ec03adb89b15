// Overlay-format whiteouts for the layer store (see whiteout.hpp).
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>

#include "common/error.hpp"
#include "common/in_root.hpp"
#include "common/user_namespace.hpp"
#include "image/fs_at.hpp"
#include "image/whiteout.hpp"

namespace kiln::image {

const char* overlay_opaque_xattr() {
  return in_initial_user_namespace() ? "trusted.overlay.opaque" : "user.overlay.opaque";
}

void OverlayWhiteouts::whiteout(int /*root_fd*/, int parent_fd, const std::string& name, const std::string& path) {
  if (created_.count(path)) return;  // the layer's own entry wins over its own whiteout
  remove_at(parent_fd, name);
  // overlayfs reads a 0/0 character device in an upper/lower layer as "deleted here".
  if (::mknodat(parent_fd, name.c_str(), S_IFCHR | 0, ::makedev(0, 0)) != 0) throw_errno("whiteout " + path);
  created_.insert(path);
}

void OverlayWhiteouts::opaque(int root_fd, const std::string& dir_path) {
  UniqueFd dir = mkdir_all_in_root(root_fd, dir_path);
  std::string p = proc_fd_path(dir.get());
  const char* key = overlay_opaque_xattr();
  if (::setxattr(p.c_str(), key, "y", 1, 0) != 0)
    throw_errno("mark " + (dir_path.empty() ? std::string("/") : dir_path) + " opaque (" + key + ")");
}

bool OverlayWhiteouts::copy_up(const std::string& target, int parent_fd, const std::string& name) {
  for (const auto& lower : lowers_) {
    UniqueFd src;
    try {
      src = open_in_root(lower.get(), target, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    } catch (const Error& e) {
      if (e.code() == ENOENT || e.code() == ENOTDIR) continue;  // not in this layer: look lower
      if (e.code() == ELOOP) return false;                      // a symlink: not a file to link to
      throw;
    }
    struct stat st;
    if (::fstat(src.get(), &st) != 0) throw_errno("stat " + target + " in lower layer");
    if (S_ISCHR(st.st_mode) && st.st_rdev == ::makedev(0, 0)) return false;  // whited out below
    if (!S_ISREG(st.st_mode)) return false;
    UniqueFd dst(::openat(parent_fd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!dst) throw_errno("create " + name);
    off_t left = st.st_size;
    while (left > 0) {
      ssize_t n = ::copy_file_range(src.get(), nullptr, dst.get(), nullptr, static_cast<size_t>(left), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw_errno("copy " + target + " up from a lower layer", n < 0 ? errno : EIO);
      left -= n;
    }
    if (::geteuid() == 0 && ::fchown(dst.get(), st.st_uid, st.st_gid) != 0) throw_errno("chown " + name);
    if (::fchmod(dst.get(), st.st_mode & 07777) != 0) throw_errno("chmod " + name);
    struct timespec ts[2] = {st.st_atim, st.st_mtim};
    ::futimens(dst.get(), ts);
    return true;
  }
  return false;
}

}  // namespace kiln::image
