#include "image/fs_at.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include "common/error.hpp"
#include "common/in_root.hpp"
#include "common/dir_stream.hpp"
#include "common/unique_fd.hpp"

namespace kiln::image {
namespace {

void remove_children(int dfd, dev_t dev) {
  DirStream dir(dfd, fd_path(dfd));
  while (const dirent* de = dir.next()) {
    std::string n = de->d_name;
    if (::unlinkat(dfd, n.c_str(), 0) == 0 || errno == ENOENT) continue;
    if (errno != EISDIR && errno != EPERM) throw_errno("remove " + fd_path(dfd) + "/" + n);
    UniqueFd child(::openat(dfd, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!child) throw_errno("open " + fd_path(dfd) + "/" + n);
    struct stat st;
    if (::fstat(child.get(), &st) != 0) throw_errno("stat " + fd_path(child.get()));
    if (st.st_dev != dev) throw Error("remove " + fd_path(child.get()) + ": is a mount point");
    remove_children(child.get(), dev);
    if (::unlinkat(dfd, n.c_str(), AT_REMOVEDIR) != 0) throw_errno("remove " + fd_path(dfd) + "/" + n);
  }
}

}  // namespace

void remove_at(int dirfd, const std::string& name) {
  if (::unlinkat(dirfd, name.c_str(), 0) == 0 || errno == ENOENT) return;
  if (errno != EISDIR && errno != EPERM) throw_errno("remove " + fd_path(dirfd) + "/" + name);
  UniqueFd d(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!d) throw_errno("open " + fd_path(dirfd) + "/" + name);
  struct stat st;
  if (::fstat(d.get(), &st) != 0) throw_errno("stat " + fd_path(d.get()));
  remove_children(d.get(), st.st_dev);
  if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0) throw_errno("remove " + fd_path(dirfd) + "/" + name);
}

int set_xattr_at(int dirfd, const std::string& name, const std::string& key, const void* value, size_t size) {
  // /proc/self/fd/N names exactly the directory we resolved; lsetxattr leaves `name` unfollowed.
  std::string p = proc_fd_path(dirfd) + "/" + name;
  return ::lsetxattr(p.c_str(), key.c_str(), value, size, 0) == 0 ? 0 : errno;
}

}  // namespace kiln::image
