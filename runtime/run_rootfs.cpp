#include "runtime/run_rootfs.hpp"

#include <spdlog/spdlog.h>
#include <sys/mount.h>

#include <cerrno>
#include <cstring>

#include "common/error.hpp"
#include "common/files.hpp"

namespace kiln::runtime {

void mount_rootfs(const RootfsMount& m) {
  mkdir_p(m.target, 0755);
  if (m.kind == RootfsMount::Kind::overlay) {
    spdlog::debug("mount overlay on {}: {}", m.target, m.overlay_options);
    if (::mount("overlay", m.target.c_str(), "overlay", MS_NODEV, m.overlay_options.c_str()) != 0)
      throw_errno("mount rootfs overlay on " + m.target);
    return;
  }
  spdlog::debug("bind {} read-only on {}", m.bind_source, m.target);
  if (::mount(m.bind_source.c_str(), m.target.c_str(), nullptr, MS_BIND, nullptr) != 0)
    throw_errno("bind rootfs " + m.bind_source + " on " + m.target);
  if (::mount(nullptr, m.target.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NODEV, nullptr) != 0) {
    int err = errno;
    ::umount2(m.target.c_str(), MNT_DETACH);
    throw_errno("remount rootfs " + m.target + " read-only", err);
  }
}

void unmount_rootfs(const std::string& target) {
  if (::umount2(target.c_str(), UMOUNT_NOFOLLOW) == 0) return;
  if (errno == EBUSY && ::umount2(target.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) == 0) return;
  if (errno != EINVAL && errno != ENOENT) spdlog::warn("unmount rootfs {}: {}", target, std::strerror(errno));
}

}  // namespace kiln::runtime
