// fuse-overlayfs (Debian's package) as a container's rootfs when the kernel refuses overlayfs
// for this store: an upper dir on a filesystem overlayfs cannot write to (another overlay, as
// when kiln itself runs in a container; some network filesystems), or a kernel without
// unprivileged overlayfs. The same layers and whiteouts (overlay's char 0/0 devices and opaque
// xattrs, which fuse-overlayfs reads too), served by a daemon that lives as long as the mount.
#pragma once
#include <optional>
#include <string>

#include "engine/rootfs.hpp"

namespace kiln::engine {

std::optional<std::string> find_fuse_overlayfs();

// Mounts plan.target with fuse-overlayfs; kernel_refusal says why the kernel's overlay was not
// used. Throws "mount rootfs on TARGET: ..." naming both reasons when it cannot.
void mount_fuse_overlay(const RootfsPlan& plan, const std::string& kernel_refusal);

// True when target is a FUSE mount (its daemon goes when it is unmounted).
bool is_fuse_mount(const std::string& target);

}  // namespace kiln::engine
