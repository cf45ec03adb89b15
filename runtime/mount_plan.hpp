// Setup as data: the spec's mounts become a list of typed steps (MountPlan) before any is
// applied. The plan can be unit-tested, logged at debug level and compared; apply_mount_plan()
// then performs it inside the container's mount namespace, resolving every destination inside
// the rootfs.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "runtime/spec.hpp"

namespace kiln {
class ChildStageStamps;
}

namespace kiln::runtime {

struct MountStep {
  std::string source;               // host path for binds; fs name otherwise
  std::string destination;          // inside the rootfs
  std::string fstype;               // empty for binds
  unsigned long flags = 0;          // for mount(2) (binds: MS_BIND [| MS_REC])
  unsigned long remount_flags = 0;  // binds: attributes applied by a second MS_REMOUNT (ro, nosuid ...)
  unsigned long propagation = 0;
  std::string data;
  bool bind = false;
  bool fallback_bind_sys = false;  // sysfs: bind the host's /sys when the kernel refuses a new sysfs
  std::string describe() const;
  // proc, sysfs, devpts, mqueue, cgroup...: the destination is reached with no symlink on the
  // way, and proc and sysfs are checked once every mount is done (type, and a mount root).
  bool kernel_fs() const;
};

using MountPlan = std::vector<MountStep>;

// cgroup_paths: hierarchy -> the container's cgroup directory on the host, from the cgroup
// manager; a `cgroup` mount becomes a tmpfs with one read-only bind per hierarchy (v1), or a
// cgroup2 mount / bind of the container's directory (v2). With no cgroup_paths (the container
// has no cgroup), an empty read-only tmpfs.
MountPlan plan_mounts(const Spec& spec, const std::map<std::string, std::string>& cgroup_paths,
                      const std::string& cgroup_root = "/sys/fs/cgroup");

// Applies the plan below rootfs_fd (an O_PATH fd of the rootfs, already a mount point).
void apply_mount_plan(const MountPlan& plan, int rootfs_fd, ChildStageStamps* stamps = nullptr);

}  // namespace kiln::runtime
