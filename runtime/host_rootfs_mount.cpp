#include "runtime/host_rootfs_mount.hpp"

#include <stdlib.h>
#include <sys/mount.h>

#include <sstream>

#include "common/error.hpp"
#include "common/files.hpp"

namespace kiln::runtime {
namespace {

// mountinfo writes space, tab, newline and backslash in paths as octal escapes.
std::string mountinfo_escape(const std::string& path) {
  std::string out;
  for (char c : path) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\\') {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\%03o", static_cast<unsigned char>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

int top_mount_id(const std::string& path) {
  const std::string escaped = mountinfo_escape(path);
  std::istringstream in(read_file("/proc/self/mountinfo"));
  std::string line;
  int top = -1;
  // Fields: id parent major:minor root mount-point ...; a mount stacked later is listed later.
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, point;
    if (!(fields >> id >> parent >> dev >> root >> point)) continue;
    if (point == escaped) top = std::stoi(id);
  }
  return top;
}

HostRootfsMount note_host_rootfs_mount(const std::string& rootfs) {
  // mountinfo names the path with every symlink resolved.
  char* real = ::realpath(rootfs.c_str(), nullptr);
  if (!real) throw_errno("resolve rootfs " + rootfs);
  std::string path(real);
  ::free(real);
  return with_context("note the mounts on rootfs " + path, [&] { return HostRootfsMount{path, top_mount_id(path)}; });
}

void detach_host_rootfs_mount(const HostRootfsMount& mount) {
  if (mount.path.empty()) return;
  // Each round detaches the topmost mount and the tree below it; a bounded loop, in case the
  // container's init stacked more than one mount on its root.
  for (int round = 0; round < 16; ++round) {
    int top = top_mount_id(mount.path);
    if (top < 0 || top == mount.base_mount_id) return;
    if (::umount2(mount.path.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) != 0)
      throw_errno("unmount the container's mounts on " + mount.path);
  }
  throw Error("unmount the container's mounts on " + mount.path + ": still mounted after 16 rounds", EBUSY);
}

}  // namespace kiln::runtime
