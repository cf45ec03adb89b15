#include "common/sealed_exe.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/mount.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

#include "common/detached_mount.hpp"
#include "common/error.hpp"
#include "common/unique_fd.hpp"

extern char** environ;

namespace kiln {
namespace {

// Set by the process that re-executes; removed again by the sealed process, so no child
// (and no container process) inherits it.
constexpr const char* kMarker = "_KILN_SEALED_EXE";
constexpr const char* kOriginalExe = "_KILN_ORIGINAL_EXE";

std::string self_exe_link() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n < 0) throw_errno("read /proc/self/exe");
  return std::string(buf, static_cast<size_t>(n));
}
constexpr unsigned kMountAttrs = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV;
constexpr unsigned kAllSeals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;

bool fd_is_sealed_copy(int fd) {
  int seals = ::fcntl(fd, F_GET_SEALS);
  if (seals >= 0 && (static_cast<unsigned>(seals) & kAllSeals) == kAllSeals) return true;
  struct statfs fs;
  // Our overlay has no upper layer: its superblock is read-only for good.
  return ::fstatfs(fd, &fs) == 0 && fs.f_type == OVERLAYFS_SUPER_MAGIC && (fs.f_flags & ST_RDONLY);
}

std::string self_exe_path() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n < 0) throw_errno("readlink /proc/self/exe");
  std::string path(buf, static_cast<size_t>(n));
  const std::string deleted = " (deleted)";
  if (path.size() > deleted.size() && path.compare(path.size() - deleted.size(), deleted.size(), deleted) == 0)
    throw Error("re-execute from a sealed copy: our binary " + path + " was replaced or removed");
  return path;
}

// The binary, opened through a detached read-only overlay of its own directory.
UniqueFd open_through_overlay() {
  std::string path = self_exe_path();
  size_t slash = path.rfind('/');
  std::string dir = slash == 0 ? "/" : path.substr(0, slash);
  std::string name = path.substr(slash + 1);
  if (dir.find_first_of(":,\\") != std::string::npos)
    throw Error("overlay of " + dir + ": unusable characters", EINVAL);
  // Without an upper layer overlayfs wants two lower layers, and refuses one that is the other
  // or an ancestor of it: the second is an empty, detached tmpfs.
  UniqueFd empty = detached_mount("tmpfs", {{"size", "4k"}, {"mode", "0555"}}, kMountAttrs);
  std::string lower = dir + ":/proc/self/fd/" + std::to_string(empty.get());
  UniqueFd mnt = detached_mount("overlay", {{"lowerdir", lower}}, kMountAttrs);
  UniqueFd exe(::openat(mnt.get(), name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!exe) throw_errno("open " + name + " through the overlay");
  return exe;
}

UniqueFd sealed_memfd_copy() {
  UniqueFd src(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
  if (!src) throw_errno("open /proc/self/exe");
  struct stat st;
  if (::fstat(src.get(), &st) != 0) throw_errno("stat /proc/self/exe");
  UniqueFd mem(static_cast<int>(::syscall(SYS_memfd_create, "kiln-sealed-exe", MFD_CLOEXEC | MFD_ALLOW_SEALING)));
  if (!mem) throw_errno("memfd_create");
  off_t done = 0;
  while (done < st.st_size) {
    ssize_t n = ::sendfile(mem.get(), src.get(), nullptr, static_cast<size_t>(st.st_size - done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw_errno("copy our binary into a memfd", n == 0 ? EIO : errno);
    done += n;
  }
  if (::fcntl(mem.get(), F_ADD_SEALS, kAllSeals) != 0) throw_errno("seal the memfd copy");
  return mem;
}

}  // namespace

bool running_from_sealed_exe() {
  if (!std::getenv(kMarker)) return false;
  UniqueFd self(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
  return self && fd_is_sealed_copy(self.get());
}

void reexec_from_sealed_exe(char** argv) {
  if (running_from_sealed_exe()) {
    ::unsetenv(kMarker);
    return;
  }
  const char* forced = std::getenv("KILN_SEALED_EXE");
  bool memfd_only = forced && std::strcmp(forced, "memfd") == 0;
  UniqueFd exe;
  if (!memfd_only) {
    try {
      exe = open_through_overlay();
    } catch (const Error&) {
      // No privilege to mount, or no overlayfs: the memfd copy is as sound, only costlier.
    }
  }
  if (!exe) exe = sealed_memfd_copy();
  if (::setenv(kOriginalExe, self_exe_link().c_str(), 1) != 0) throw_errno("setenv");
  if (::setenv(kMarker, "1", 1) != 0) throw_errno("setenv");
  ::syscall(SYS_execveat, exe.get(), "", argv, environ, AT_EMPTY_PATH);
  int err = errno;
  ::unsetenv(kMarker);
  throw_errno("re-execute from a sealed copy of our binary", err);
}

std::string original_exe_path() {
  const char* original = std::getenv(kOriginalExe);
  if (original && *original) {
    UniqueFd self(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
    if (self && fd_is_sealed_copy(self.get())) return original;
  }
  return self_exe_link();
}

}  // namespace kiln
