#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroups/manager.hpp"
#include "common/clock.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "common/signals.hpp"
#include "runtime/launcher.hpp"
#include "runtime/lifecycle.hpp"
#include "runtime/spec.hpp"

namespace kiln::runtime {
namespace {

// Everything create made, undone in reverse unless commit() is called.
class CreateRollback {
 public:
  explicit CreateRollback(const StateDir& dir) : dir_(dir) {}
  void set_cgroup(std::shared_ptr<cgroups::Manager> m) { cgroup_ = std::move(m); }
  void commit() { committed_ = true; }
  ~CreateRollback() {
    if (committed_) return;
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
  bool committed_ = false;
};

struct Created {
  Launched launched;
  ContainerState state;
  std::shared_ptr<cgroups::Manager> cgroup;
};

Created create_common(const CreateOptions& o, bool with_fifo, StateDir& dir, std::unique_ptr<CreateRollback>& rollback) {
  validate_container_id(o.id);
  // Validate everything the config says before touching the system.
  Spec spec = load_spec(o.bundle);
  cgroups::Resources resources = with_context("config.json", [&] { return cgroups::parse_resources(spec.linux.resources); });

  dir.create_new();
  rollback = std::make_unique<CreateRollback>(dir);
  std::shared_ptr<cgroups::Manager> cgroup = cgroups::make_manager(spec.linux.cgroups_path, o.id);
  rollback->set_cgroup(cgroup);
  cgroup->create();
  cgroup->apply(resources);
  if (with_fifo && ::mkfifo(dir.fifo_path().c_str(), 0600) != 0) throw_errno("create exec fifo " + dir.fifo_path());

  LaunchOptions lo;
  lo.no_pivot = o.no_pivot;
  lo.preserve_fds = o.preserve_fds;
  lo.exec_fifo = with_fifo ? dir.fifo_path() : "";
  lo.cgroup = cgroup.get();
  Launched launched = launch(spec, lo);

  ContainerState st;
  st.id = o.id;
  st.pid = launched.pid;
  st.pid_start_time = process_start_time(launched.pid);
  st.bundle = spec.bundle;
  st.rootfs = spec.root_path;
  st.created = now_rfc3339();
  st.owner = "";
  st.annotations = spec.annotations;
  st.cgroups_path = spec.linux.cgroups_path;
  st.hooks = spec.hooks;
  st.has_user_namespace = spec.linux.has_namespace("user");
  for (const auto& ns : spec.linux.namespaces)
    if (!ns.path.empty()) st.namespace_paths.emplace_back(ns.type, ns.path);
  st.no_new_privileges = spec.process.no_new_privileges;
  dir.save(st);
  if (!o.pid_file.empty()) {
    // Clients parse it with Atoi: the pid, no newline.
    write_file_atomic(o.pid_file, std::to_string(launched.pid), 0644);
  }
  return {std::move(launched), std::move(st), std::move(cgroup)};
}

int wait_forwarding_signals(pid_t pid) {
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCHLD}) sigaddset(&set, s);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  for (;;) {
    int status;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return exit_status_from_wait(status);
    if (r < 0 && errno != EINTR) throw_errno("wait for container process");
    siginfo_t info;
    int sig = ::sigwaitinfo(&set, &info);
    if (sig > 0 && sig != SIGCHLD) {
      spdlog::debug("forwarding {} to {}", signal_name(sig), pid);
      ::kill(pid, sig);
    }
  }
}

}  // namespace

void create_container(const CreateOptions& o) {
  StateDir dir(o.root, o.id);
  std::unique_ptr<CreateRollback> rollback;
  with_context("create container " + o.id, [&] {
    Created c = create_common(o, true, dir, rollback);
    rollback->commit();
  });
}

int run_container(const CreateOptions& o, bool detach) {
  StateDir dir(o.root, o.id);
  std::unique_ptr<CreateRollback> rollback;
  // Block the signals we forward before the child exists, so none is lost in between; the
  // container's init restores an empty mask before exec.
  sigset_t set, old;
  sigemptyset(&set);
  for (int s : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCHLD}) sigaddset(&set, s);
  sigprocmask(SIG_BLOCK, &set, &old);
  Created c = with_context("run container " + o.id, [&] { return create_common(o, false, dir, rollback); });
  rollback->commit();
  c.launched.channel.send(SyncType::start);
  if (detach) {
    sigprocmask(SIG_SETMASK, &old, nullptr);
    return 0;
  }
  int status = wait_forwarding_signals(c.launched.pid);
  // The process is gone: take the cgroup and the state with it, like runc run.
  try {
    c.cgroup->destroy();
  } catch (const Error& e) {
    spdlog::warn("run {}: {}", o.id, e.what());
  }
  dir.remove();
  sigprocmask(SIG_SETMASK, &old, nullptr);
  return status;
}

}  // namespace kiln::runtime
