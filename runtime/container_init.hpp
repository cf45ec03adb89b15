// The container side of the clone dance: what the cloned child (the future PID 1) does, in
// order, each step a named stage so a failure reports where it happened.
#pragma once
#include <functional>
#include <string>

#include "cgroups/manager.hpp"
#include "common/stage_clock.hpp"
#include "runtime/namespace_plan.hpp"
#include "runtime/mount_plan.hpp"
#include "runtime/seccomp_compile.hpp"
#include "runtime/spec.hpp"
#include "runtime/sync_channel.hpp"

namespace kiln::runtime {

struct InitConfig {
  const Spec* spec = nullptr;
  MountPlan mounts;
  bool no_pivot = false;
  bool new_session_keyring = true;  // a fresh anonymous session keyring (unless --no-new-keyring)
  int preserve_fds = 0;
  int exec_fifo_fd = -1;         // create: wait for `start` by reading one byte from it
  bool pause_for_hooks = false;  // prestart/createRuntime hooks exist: stop before pivot_root
  bool setgroups_allowed = true;
  // An unprivileged runtime opens /proc/<init>/uid_map, gid_map and setgroups only while the init
  // is dumpable (the kernel gives a non-dumpable process's files to root): then the init turns
  // non-dumpable only once the maps are written.
  bool dumpable_until_maps = false;
  // Device nodes are bind mounts of the host's: mknod is not allowed in a user namespace (the
  // spec's, or the one an unprivileged caller such as rootless podman runs us in).
  bool bind_devices = false;
  NamespacePlan namespaces;  // what the child joins and unshares (namespace_plan.hpp)
  // v1 `tasks` files (opened by the parent) we write "0" to, to move ourselves into our cgroups.
  std::vector<cgroups::Manager::JoinFile>* cgroup_join_files = nullptr;  // the child's copy: it closes them
  const SeccompProgram* seccomp = nullptr;
  ChildStageStamps* stamps = nullptr;  // --debug: where each stage begins (common/stage_clock.hpp)
  std::vector<std::pair<int, std::string>>
      detached_mounts;  // fd -> destination in the rootfs  // loaded as late as possible before execve
  // Steps supplied by the lifecycle layer (seccomp, hooks); each may be empty.
  std::function<void()> create_container_hooks;  // in the container's namespaces, before pivot_root
  std::function<void()> start_container_hooks;   // after start, before execve
};

// Runs in the child; never returns.
[[noreturn]] void container_init(const InitConfig& config, const SyncChannel& channel);

}  // namespace kiln::runtime
