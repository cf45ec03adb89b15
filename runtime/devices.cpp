#include "runtime/devices.hpp"

#include <fcntl.h>

#include <algorithm>
#include <spdlog/spdlog.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/error.hpp"
#include "common/in_root.hpp"

namespace kiln::runtime {
namespace {

mode_t type_bits(char type) {
  switch (type) {
    case 'b': return S_IFBLK;
    case 'p': return S_IFIFO;
    default: return S_IFCHR;
  }
}

void create_device(const Device& dev, int rootfs_fd, bool bind_from_host) {
  auto [dir, name] = open_parent_in_root(rootfs_fd, dev.path, true);
  mode_t perm = dev.file_mode.value_or(0666) & 07777;
  // Replace whatever is there: never write through an existing node or link.
  if (::unlinkat(dir.get(), name.c_str(), 0) != 0 && errno != ENOENT) throw_errno("remove old " + dev.path);
  if (bind_from_host) {
    UniqueFd fd(::openat(dir.get(), name.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0000));
    if (!fd) throw_errno("create " + dev.path);
    if (::mount(dev.path.c_str(), proc_fd_path(fd.get()).c_str(), nullptr, MS_BIND, nullptr) != 0)
      throw_errno("bind host device " + dev.path);
    return;
  }
  dev_t number = dev.type == 'p' ? 0 : makedev(static_cast<unsigned>(dev.major), static_cast<unsigned>(dev.minor));
  if (::mknodat(dir.get(), name.c_str(), type_bits(dev.type) | perm, number) != 0) throw_errno("mknod " + dev.path);
  // mknod honours the umask; set the exact mode and owner the spec asks for.
  UniqueFd node(::openat(dir.get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!node) throw_errno("open " + dev.path);
  std::string p = proc_fd_path(node.get());
  if (::chmod(p.c_str(), perm) != 0) throw_errno("chmod " + dev.path);
  if (::fchownat(node.get(), "", dev.uid.value_or(0), dev.gid.value_or(0), AT_EMPTY_PATH) != 0)
    throw_errno("chown " + dev.path);
}

void create_symlink(int rootfs_fd, const char* target, const char* path) {
  auto [dir, name] = open_parent_in_root(rootfs_fd, path, true);
  if (::symlinkat(target, dir.get(), name.c_str()) != 0 && errno != EEXIST) throw_errno(std::string("symlink ") + path);
}

}  // namespace

const std::vector<Device>& default_devices() {
  static const std::vector<Device> devices = {
      {"/dev/null", 'c', 1, 3, 0666, 0, 0},    {"/dev/zero", 'c', 1, 5, 0666, 0, 0},
      {"/dev/full", 'c', 1, 7, 0666, 0, 0},    {"/dev/random", 'c', 1, 8, 0666, 0, 0},
      {"/dev/urandom", 'c', 1, 9, 0666, 0, 0}, {"/dev/tty", 'c', 5, 0, 0666, 0, 0},
  };
  return devices;
}

void create_devices(const Spec& spec, int rootfs_fd, bool in_user_namespace) {
  // A /dev bind-mounted from the host already has its nodes.
  bool dev_is_bind = false;
  for (const Mount& m : spec.mounts)
    if (m.destination == "/dev" &&
        (m.type == "bind" || std::find(m.options.begin(), m.options.end(), "bind") != m.options.end() ||
         std::find(m.options.begin(), m.options.end(), "rbind") != m.options.end()))
      dev_is_bind = true;
  if (!dev_is_bind) {
    for (const Device& d : default_devices()) {
      bool overridden = false;
      for (const Device& s : spec.linux.devices) overridden = overridden || s.path == d.path;
      if (!overridden) with_context("create default device", [&] { create_device(d, rootfs_fd, in_user_namespace); });
    }
  }
  for (const Device& d : spec.linux.devices) {
    spdlog::debug("device {} {} {}:{}", d.path, d.type, d.major, d.minor);
    with_context("create device", [&] { create_device(d, rootfs_fd, in_user_namespace); });
  }
  if (dev_is_bind) return;
  create_symlink(rootfs_fd, "/proc/self/fd", "/dev/fd");
  create_symlink(rootfs_fd, "/proc/self/fd/0", "/dev/stdin");
  create_symlink(rootfs_fd, "/proc/self/fd/1", "/dev/stdout");
  create_symlink(rootfs_fd, "/proc/self/fd/2", "/dev/stderr");
  // /dev/ptmx points at the container's own devpts instance.
  auto [dir, name] = open_parent_in_root(rootfs_fd, "/dev/ptmx", true);
  if (::unlinkat(dir.get(), name.c_str(), 0) != 0 && errno != ENOENT) throw_errno("remove /dev/ptmx");
  if (::symlinkat("pts/ptmx", dir.get(), name.c_str()) != 0) throw_errno("symlink /dev/ptmx");
}

}  // namespace kiln::runtime
