// The container's filesystem view, set up from inside its new mount namespace:
//   prepare_rootfs  make mounts private/slave, bind the rootfs onto itself, apply the MountPlan,
//                   create devices                          (before pivot_root)
//   enter_rootfs    pivot_root (or MS_MOVE + chroot with --no-pivot) and drop the old root;
//                   chroot alone when the container shares the host's mount namespace
//   finish_rootfs   masked and read-only paths, read-only root, rootfsPropagation (after)
#pragma once
#include <map>
#include <string>

#include "common/unique_fd.hpp"
#include "runtime/mount_plan.hpp"
#include "runtime/spec.hpp"

namespace kiln::runtime {

// Returns an O_PATH fd of the rootfs mount.
UniqueFd prepare_rootfs(const Spec& spec, const MountPlan& plan, bool in_user_namespace,
                        ChildStageStamps* stamps = nullptr);
void enter_rootfs(const Spec& spec, int rootfs_fd, bool no_pivot);
void finish_rootfs(const Spec& spec);

}  // namespace kiln::runtime
