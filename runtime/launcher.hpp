// The runtime side of the clone dance: clone3 the container's init with its new namespaces
// (straight into its cgroup on v2), write its id maps, join it to its cgroups (v1), release
// it, and wait until it reports ready (or an error, as a typed message).
#pragma once
#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>

#include "cgroups/manager.hpp"
#include "common/stage_clock.hpp"
#include "common/unique_fd.hpp"
#include "runtime/container_init.hpp"
#include "runtime/spec.hpp"
#include "runtime/sync_channel.hpp"

namespace kiln::runtime {

struct LaunchOptions {
  bool no_pivot = false;
  bool no_new_keyring = false;
  int preserve_fds = 0;
  std::string exec_fifo;  // create: the fifo the init waits on; empty for run
  cgroups::Manager* cgroup = nullptr;
  std::function<void(pid_t)> create_runtime_hooks;  // prestart + createRuntime, in the runtime's namespaces
  std::function<void()> create_container_hooks;
  std::function<void()> start_container_hooks;
  const SeccompProgram* seccomp = nullptr;
  std::vector<std::pair<int, std::string>> detached_mounts;
};

struct Launched {
  pid_t pid = -1;
  UniqueFd pidfd;
  SyncChannel channel;        // run: send SyncType::start on it
  UniqueFd seccomp_listener;  // SCMP_ACT_NOTIFY profiles: the filter's notify fd
  UniqueFd pty_master;        // process.terminal: the master side of the container's pty
  // --debug: the init's stage stamps (logged up to "ready" by launch; the rest once it exec'd)
  std::unique_ptr<ChildStageStamps> stamps;
};

// On failure the child is killed and reaped before the error is thrown; the caller removes
// the cgroup and state it made.
Launched launch(const Spec& spec, const LaunchOptions& options);

}  // namespace kiln::runtime
