// A container without a mount namespace of its own shares the runtime's (the host's): its
// rootfs bind and the spec's mounts under it (proc, dev, sys...) are made in the host's mount
// table and outlive the container's processes. The runtime notes, before it mounts anything,
// which mount the rootfs path showed until then, and at delete (after a failed create, at the
// end of run) detaches what was stacked on it since: the bind, and with it every mount below.
#pragma once
#include <string>

namespace kiln::runtime {

struct HostRootfsMount {
  std::string path;        // the rootfs, absolute; empty: the container has a mount namespace
  int base_mount_id = -1;  // the mount on top of `path` before ours (-1: it was no mount point)
};

// The id of the mount on top of `path` in our mount table (/proc/self/mountinfo), -1 if none.
int top_mount_id(const std::string& path);

// The mount point (as mountinfo writes it) of the mount `path` lies on, and whether that mount
// is shared (has peers that see what is mounted under it). `path`: absolute, symlinks resolved.
struct ContainingMount {
  std::string point;
  bool shared = false;
};
ContainingMount containing_mount(const std::string& path);

HostRootfsMount note_host_rootfs_mount(const std::string& rootfs);

// Detaches every mount stacked on the rootfs since it was noted; nothing else is touched.
void detach_host_rootfs_mount(const HostRootfsMount& mount);

}  // namespace kiln::runtime
