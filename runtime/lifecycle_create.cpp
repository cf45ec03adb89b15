#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <functional>

#include "cgroups/manager.hpp"
#include "runtime/container_cgroup.hpp"
#include "common/clock.hpp"
#include "common/error.hpp"
#include "common/failpoint.hpp"
#include "common/files.hpp"
#include "common/signals.hpp"
#include "common/stage_clock.hpp"
#include "runtime/launcher.hpp"
#include "runtime/lifecycle.hpp"
#include "runtime/console.hpp"
#include "runtime/hooks.hpp"
#include "runtime/host_rootfs_mount.hpp"
#include "runtime/seccomp_cache.hpp"
#include "runtime/seccomp_load.hpp"
#include "runtime/seccomp_profile.hpp"
#include "runtime/signal_forwarding.hpp"
#include "runtime/spec.hpp"

#include <filesystem>
#include <functional>
#include <optional>

namespace kiln::runtime {

using json = nlohmann::json;
namespace {

// Everything create made, undone in reverse unless commit() is called.
class CreateRollback {
 public:
  explicit CreateRollback(const StateDir& dir) : dir_(dir) {}
  void set_cgroup(std::shared_ptr<cgroups::Manager> m) { cgroup_ = std::move(m); }
  void set_host_rootfs(HostRootfsMount m) { host_rootfs_ = std::move(m); }
  void commit() { committed_ = true; }
  ~CreateRollback() {
    if (committed_) return;
    try {
      detach_host_rootfs_mount(host_rootfs_);
    } catch (const std::exception& e) {
      spdlog::warn("cleanup: {}", e.what());
    }
    try {
      if (cgroup_) cgroup_->destroy();
    } catch (const std::exception& e) {
      spdlog::warn("cleanup: {}", e.what());
    }
    try {
      dir_.remove();
    } catch (const std::exception& e) {
      spdlog::warn("cleanup: {}", e.what());
    }
  }

 private:
  const StateDir& dir_;
  std::shared_ptr<cgroups::Manager> cgroup_;
  HostRootfsMount host_rootfs_;
  bool committed_ = false;
};

struct Created {
  Launched launched;
  ContainerState state;
  std::shared_ptr<cgroups::Manager> cgroup;
};

// before_launch runs right before the clone (run blocks the signals it forwards there: until
// then, a slow step such as compiling a seccomp profile stays killable).
// `lock` (the state dir's flock) is held from the mkdir until the caller is done: a delete or
// start meanwhile waits, and one after a kill -9 of create finds the intent written below.
Created create_common(const CreateOptions& o, bool with_fifo, StateDir& dir, UniqueFd& lock,
                      std::unique_ptr<CreateRollback>& rollback, const std::function<void()>& before_launch = {}) {
  log_stage("parse");
  validate_container_id(o.id);
  // Validate everything the config says before touching the system.
  Spec spec = o.config ? with_context("config", [&] { return parse_spec(*o.config, o.bundle); }) : load_spec(o.bundle);
  const cgroups::Resources& resources = spec.linux.resources;
  const Hooks& hooks = spec.hooks;
  std::optional<SeccompProgram> seccomp;
  if (spec.linux.seccomp) log_stage("seccomp prepare");
  if (spec.linux.seccomp)
    seccomp =
        with_context("config.json", [&] { return prepare_seccomp(*spec.linux.seccomp, o.root + "/seccomp-cache"); });

  ContainerState st;
  st.id = o.id;
  st.bundle = spec.bundle;
  st.rootfs = spec.root_path;
  st.created = now_rfc3339();
  st.annotations = spec.annotations;

  log_stage("state lock");
  dir.create_new();
  rollback = std::make_unique<CreateRollback>(dir);
  lock = dir.lock();
  // Undo must survive SIGKILL (no destructor runs then): write down what we are about to
  // make (the cgroups, a mount in the host's table) before making it. The init is not in it:
  // until the final state below names it, it exits by itself if we die (wait_for_start).
  st.creating = true;
  st.creator_pid = ::getpid();
  st.creator_start_time = process_start_time(st.creator_pid);
  const CgroupPlacement placement = place_container_cgroup(spec.linux.cgroups_path, o.id);
  st.cgroups_path = placement.cgroups_path;
  st.cgroup_delegated_v2 = placement.delegated_v2;
  st.pid_file = o.pid_file;
  if (!spec.linux.has_namespace("mount")) {
    // The init will mount in the host's mount table: a delete after a kill -9 of this create
    // must find what to unmount.
    st.host_rootfs = note_host_rootfs_mount(spec.root_path);
    rollback->set_host_rootfs(st.host_rootfs);
  }
  dir.save(st);
  KILN_FAILPOINT("create-after-intent");
  log_stage("cgroup create");
  ContainerCgroup made = create_container_cgroup(placement, o.id);
  std::shared_ptr<cgroups::Manager> cgroup = std::move(made.manager);
  rollback->set_cgroup(cgroup);
  st.no_cgroup = made.none;
  cgroup->apply(resources);
  KILN_FAILPOINT("create-after-cgroup");
  if (with_fifo && ::mkfifo(dir.fifo_path().c_str(), 0600) != 0) throw_errno("create exec fifo " + dir.fifo_path());

  LaunchOptions lo;
  lo.no_pivot = o.no_pivot;
  lo.no_new_keyring = o.no_new_keyring;
  lo.preserve_fds = o.preserve_fds;
  lo.exec_fifo = with_fifo ? dir.fifo_path() : "";
  lo.cgroup = cgroup.get();
  lo.seccomp = seccomp ? &*seccomp : nullptr;
  for (const auto& m : o.detached_mounts) {
    if (m.destination.empty() || m.destination[0] != '/')
      throw Error("detached mount destination " + m.destination + ": must be absolute");
    lo.detached_mounts.emplace_back(m.fd, m.destination);
  }

  // Hooks see the state as the spec defines it; the pid is filled in as it becomes known. The
  // create-time hooks (prestart, createRuntime, createContainer) and startContainer run once the
  // runtime environment exists (after lifecycle step 2) and before the user's program runs:
  // the spec calls that "created" ("creating" is step 2 itself).
  auto hook_state = [&st](pid_t pid, Status status) {
    ContainerState s = st;
    s.pid = pid;
    return state_to_oci_json(s, status).dump();
  };
  if (!hooks.prestart.empty() || !hooks.createRuntime.empty()) {
    lo.create_runtime_hooks = [&](pid_t pid) {
      std::string state = hook_state(pid, Status::created);
      run_hooks(hooks.prestart, state, "prestart");
      run_hooks(hooks.createRuntime, state, "createRuntime");
    };
  }
  // These two run in the container's init. Its pid on the host is what /proc/self names
  // before pivot_root (the host's procfs is still mounted there).
  std::string child_state;
  if (!hooks.createContainer.empty() || !hooks.startContainer.empty()) {
    lo.create_container_hooks = [&] {
      pid_t host_pid = static_cast<pid_t>(std::stol(std::filesystem::read_symlink("/proc/self").string()));
      child_state = hook_state(host_pid, Status::created);
      run_hooks(hooks.createContainer, child_state, "createContainer");
    };
    lo.start_container_hooks = [&] { run_hooks(hooks.startContainer, child_state, "startContainer"); };
  }
  if (spec.process.terminal && o.console_socket.empty() && (with_fifo || o.detach))
    throw Error("process.terminal is true but no --console-socket was given to receive the pty");
  log_stage("launch");
  if (before_launch) before_launch();
  Launched launched = launch(spec, lo);
  if (launched.pty_master && !o.console_socket.empty()) {
    send_console_master(o.console_socket, launched.pty_master.get());
    launched.pty_master.reset();
  }
  if (launched.seccomp_listener) {
    const SeccompProfile& profile = spec.linux.seccomp->profile;
    if (!profile.listener_path.empty())
      send_listener_fd(profile.listener_path, launched.seccomp_listener.get(),
                       seccomp_process_state(json::parse(hook_state(launched.pid, Status::creating)), launched.pid,
                                             profile.listener_metadata));
  }

  log_stage("state write");
  st.pid = launched.pid;
  st.pid_start_time = process_start_time(launched.pid);
  st.poststart_hooks = spec.hooks.poststart;
  st.poststop_hooks = spec.hooks.poststop;
  st.has_user_namespace = spec.linux.has_namespace("user");
  for (const auto& ns : spec.linux.namespaces)
    if (!ns.path.empty()) st.namespace_paths.emplace_back(ns.type, ns.path);
  st.no_new_privileges = spec.process.no_new_privileges;
  st.creating = false;
  st.creator_pid = 0;
  st.creator_start_time = 0;
  KILN_FAILPOINT("create-before-state-write");
  dir.save(st);
  KILN_FAILPOINT("create-after-state-write");
  if (!o.pid_file.empty()) {
    // Clients parse it with Atoi: the pid, no newline.
    write_file_atomic(o.pid_file, std::to_string(launched.pid), 0644, Sync::in_memory);
  }
  // The state names the init now: it may outlive us and wait for `start` from anyone.
  if (with_fifo) launched.channel.send(SyncType::handed_over);
  return {std::move(launched), std::move(st), std::move(cgroup)};
}

}  // namespace

void create_container(const CreateOptions& o) {
  StateDir dir(o.root, o.id);
  UniqueFd lock;  // declared first: released only after a rollback removed the dir
  std::unique_ptr<CreateRollback> rollback;
  with_context("create container " + o.id, [&] {
    Created c = create_common(o, true, dir, lock, rollback);
    rollback->commit();
  });
}

int run_container(const CreateOptions& o, bool detach) {
  StateDir dir(o.root, o.id);
  UniqueFd lock;
  std::unique_ptr<CreateRollback> rollback;
  // Block the signals we forward before the child exists, so none is lost in between; the
  // container's init restores an empty mask before exec.
  sigset_t old;
  bool blocked = false;
  auto block = [&] {
    block_forwarded_signals(&old);
    blocked = true;
  };
  CreateOptions opts = o;
  opts.detach = detach;
  Created c = [&] {
    try {
      return with_context("run container " + o.id,
                          [&] { return create_common(opts, false, dir, lock, rollback, block); });
    } catch (...) {
      if (blocked) sigprocmask(SIG_SETMASK, &old, nullptr);
      throw;
    }
  }();
  rollback->commit();
  log_stage("start");
  c.launched.channel.send(SyncType::start);
  lock.reset();
  if (!c.state.poststart_hooks.empty()) {
    // The init's end of the channel is close-on-exec: EOF (or its error, when exec failed) says
    // the process was executed, which poststart hooks must come after.
    c.launched.channel.receive();
    run_poststart_hooks(c.state);
  }
  if (detach) {
    sigprocmask(SIG_SETMASK, &old, nullptr);
    return 0;
  }
  log_stage("wait");
  int status = c.launched.pty_master ? relay_terminal(c.launched.pty_master.get(), c.launched.pid)
                                     : wait_forwarding_signals(c.launched.pid);
  c.launched.stamps->log_new();  // the init's last ones: exec
  log_stage("delete");
  // The process is gone: take the cgroup and the state with it, like runc run.
  try {
    c.cgroup->destroy();
  } catch (const Error& e) {
    spdlog::warn("run {}: {}", o.id, e.what());
  }
  try {
    detach_host_rootfs_mount(c.state.host_rootfs);
  } catch (const Error& e) {
    spdlog::warn("run {}: {}", o.id, e.what());
  }
  run_poststop_hooks(c.state);
  dir.remove();
  sigprocmask(SIG_SETMASK, &old, nullptr);
  log_stage("done");
  return status;
}

}  // namespace kiln::runtime
