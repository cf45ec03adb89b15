// The cgroup a container lives in: its own, made by create; or, for an unprivileged caller
// that may not make one (no cgroup delegated to it), none at all, as runc's rootless mode does.
// Later commands find out which from the state.
#pragma once
#include <memory>
#include <optional>
#include <string>

#include "cgroups/manager.hpp"
#include "runtime/state.hpp"

namespace kiln::runtime {

// Not root of the initial user namespace: the kernel decides what cgroups we may write.
bool unprivileged_caller();

// Where state lives without --root: /run/kiln-runtime for root; for anyone else
// $XDG_RUNTIME_DIR/kiln-runtime, or /tmp/kiln-runtime-UID when that is unset (as runc does).
std::string default_state_root();

// Where create puts the container's cgroup, decided before anything is made (the state
// records it first, so a delete after a kill -9 of create finds it). An unprivileged caller
// without a cgroupsPath of its own goes into the cgroup v2 subtree delegated to it, if any:
// <delegated root>/kiln/<id>, with a v2-only manager on the cgroup2 mount (on a hybrid host
// the v1 hierarchies are never delegated).
struct CgroupPlacement {
  std::string cgroups_path;
  bool delegated_v2 = false;
};
CgroupPlacement place_container_cgroup(const std::string& cgroups_path, const std::string& id);

// The delegated cgroup v2 subtree this (unprivileged) process may use, as a path on the host
// ("/sys/fs/cgroup/user.slice/.../user@1000.service"); nullopt when there is none.
std::optional<std::string> delegated_cgroup_dir();

struct ContainerCgroup {
  std::shared_ptr<cgroups::Manager> manager;
  bool none = false;  // an unprivileged caller without a delegated cgroup: nothing was made
};

// Creates the container's cgroup in every hierarchy. A privileged caller's failure is an error
// (what was made is removed); an unprivileged one's EACCES/EPERM/EROFS gives none instead.
ContainerCgroup create_container_cgroup(const CgroupPlacement& placement, const std::string& id);

// The cgroup of an existing container, as its create made it.
std::unique_ptr<cgroups::Manager> container_cgroup(const ContainerState& st);

}  // namespace kiln::runtime
