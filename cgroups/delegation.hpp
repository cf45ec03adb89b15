// A cgroup v2 subtree delegated to an ordinary user (systemd's Delegate=yes: the user owns the
// directory and its cgroup.procs and cgroup.subtree_control), where a rootless runtime may make
// cgroups of its own and set limits as root does (runc, crun and podman rootless do the same).
#pragma once
#include <sys/types.h>

#include <optional>
#include <string>

namespace kiln::cgroups {

// The cgroup2 mount below mount_root: mount_root itself (v2), mount_root/unified (hybrid), or
// nothing (v1).
std::optional<std::string> v2_mount(const std::string& mount_root = "/sys/fs/cgroup");

// The highest cgroup from own_path up (own_path: the caller's v2 cgroup, "/a/b"), through
// directories uid owns, that uid owns with its cgroup.procs and cgroup.subtree_control: the
// delegated subtree's root, as a path in the hierarchy ("/a"). nullopt when there is none.
std::optional<std::string> delegated_subtree(const std::string& v2_mount, const std::string& own_path, uid_t uid);

}  // namespace kiln::cgroups
