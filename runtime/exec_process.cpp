#include "runtime/exec_process.hpp"

#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>

#include "cgroups/manager.hpp"
#include "runtime/container_cgroup.hpp"
#include "common/error.hpp"
#include "common/env.hpp"
#include "common/files.hpp"
#include "common/process.hpp"
#include "common/ids.hpp"
#include "common/signals.hpp"
#include "runtime/console.hpp"
#include "runtime/process_setup.hpp"
#include "runtime/child_stage.hpp"
#include "runtime/seccomp_cache.hpp"
#include "runtime/signal_forwarding.hpp"
#include "runtime/spec.hpp"
#include "runtime/state.hpp"

namespace kiln::runtime {
namespace {

Process build_process(const ExecOptions& o, const Spec& spec) {
  if (!o.process_file.empty()) {
    std::string text = read_file(o.process_file);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
      throw Error(o.process_file + ": malformed JSON: " + e.what());
    }
    return with_context(o.process_file, [&] { return parse_process(j, "process"); });
  }
  if (o.args.empty()) throw Error("exec: no command given (pass args or --process)");
  Process p = spec.process;
  p.args = o.args;
  p.terminal = o.tty;
  for (const auto& e : o.env) {
    if (e.find('=') == std::string::npos || e[0] == '=') throw Error("exec --env: must be KEY=VALUE");
    set_env(p.env, e);
  }
  if (!o.cwd.empty()) {
    if (o.cwd[0] != '/') throw Error("exec --cwd " + o.cwd + ": must be absolute");
    p.cwd = o.cwd;
  }
  if (!o.user.empty()) {
    size_t colon = o.user.find(':');
    p.user.uid = parse_id(o.user.substr(0, colon), "exec --user " + o.user);
    p.user.gid = colon == std::string::npos ? 0 : parse_id(o.user.substr(colon + 1), "exec --user " + o.user);
  }
  for (unsigned g : o.additional_gids) {
    check_id(g, "exec --additional-gids");
    p.user.additional_gids.push_back(g);
  }
  for (const auto& c : o.caps) {
    int v = with_context("exec --cap", [&] { return capability_from_name(c); });
    for (auto* set : {&p.capabilities.bounding, &p.capabilities.effective, &p.capabilities.permitted})
      if (std::find(set->begin(), set->end(), v) == set->end()) set->push_back(v);
  }
  if (o.no_new_privs) p.no_new_privileges = true;
  return p;
}

struct ExecChild {
  const Process* process;
  const SeccompProgram* seccomp;
  int pidfd;
  std::vector<cgroups::Manager::JoinFile>* cgroup_join_files;  // written "0" to: v1 (closed by the child)
  int join_flags;
  std::string chroot_to;  // no mount namespace to join: the init's root, entered by chroot
  bool user_namespace;
  int preserve_fds;
  bool setgroups_allowed;  // "deny" in the container's user namespace (an unprivileged create)
};

[[noreturn]] void exec_child(const ExecChild& c, const SyncChannel& channel) {
  const char* stage = "join container";
  try {
    // Still kiln-runtime until execve, and visible in the container's pid namespace: no one
    // in there may open /proc/<us>/exe (CVE-2019-5736).
    ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    reset_signals_for_exec();
    channel.expect(SyncType::go);
    // A single thread moving itself into its v1 cgroups (see Manager::open_join_files).
    cgroups::join_self(*c.cgroup_join_files);
    if (c.join_flags && ::setns(c.pidfd, c.join_flags) != 0) throw_errno("join the container's namespaces");
    if (c.user_namespace) {
      if (::setresgid(0, 0, 0) != 0 || ::setresuid(0, 0, 0) != 0) throw_errno("become root in the user namespace");
    }
    if (!c.chroot_to.empty() && ::chroot(c.chroot_to.c_str()) != 0) throw_errno("chroot to the container's root");
    if (::chdir("/") != 0) throw_errno("chdir /");
    stage = "set up process";
    if (c.process->terminal) setup_terminal(*c.process, channel);
    PreparedExec exec = prepare_process(*c.process, c.seccomp, channel, c.setgroups_allowed, c.preserve_fds);
    channel.send(SyncType::ready);
    stage = "exec";
    exec_prepared(exec);
  } catch (const std::exception& e) {
    child_failed(channel, stage, e);
  }
}

}  // namespace

int exec_in_container(const ExecOptions& o) {
  StateDir dir(o.root, o.id);
  ContainerState st = dir.load();
  Status status = current_status(dir, st);
  if (status != Status::running && status != Status::created)
    throw Error("exec in container " + o.id + ": container is " + status_name(status) + ", not running");
  Spec spec = load_spec(st.bundle);
  Process proc = build_process(o, spec);
  if (proc.terminal && o.detach && o.console_socket.empty())
    throw Error("exec in container " + o.id + ": a terminal with --detach needs --console-socket");
  std::optional<SeccompProgram> seccomp;
  if (spec.linux.seccomp) seccomp = prepare_seccomp(*spec.linux.seccomp, o.root + "/seccomp-cache");

  UniqueFd init_fd = try_open_pidfd(st.pid);
  if (!init_fd || !process_alive(st.pid, st.pid_start_time)) throw Error("container " + o.id + " not running", ESRCH);
  const int pidfd = init_fd.get();
  int flags = 0;
  for (const auto& ns : spec.linux.namespaces)
    if (ns.type != "pid") flags |= ns.clone_flag;
  // The pid namespace is joined by us: it only changes where our children are born. An
  // unprivileged caller has no say over the container's namespaces until it is in the
  // container's user namespace: it joins that together with the pid namespace (one setns,
  // user namespace first), and the child joins the rest from there.
  const int pid_flag = spec.linux.has_namespace("pid") ? CLONE_NEWPID : 0;
  if (st.has_user_namespace && unprivileged_caller()) {
    if (::setns(pidfd, CLONE_NEWUSER | pid_flag) != 0) throw_errno("join user namespace of " + o.id);
    flags &= ~CLONE_NEWUSER;
  } else if (pid_flag && ::setns(pidfd, CLONE_NEWPID) != 0) {
    throw_errno("join pid namespace of " + o.id);
  }

  auto cgroup = container_cgroup(st);
  std::vector<cgroups::Manager::JoinFile> join_files = cgroup->open_join_files();
  std::string chroot_to = spec.linux.has_namespace("mount") ? "" : "/proc/" + std::to_string(st.pid) + "/root";
  const auto setgroups = read_file_if_exists("/proc/" + std::to_string(st.pid) + "/setgroups");
  ExecChild child{&proc,
                  seccomp ? &*seccomp : nullptr,
                  pidfd,
                  &join_files,
                  flags,
                  chroot_to,
                  st.has_user_namespace,
                  o.preserve_fds,
                  !setgroups || setgroups->rfind("deny", 0) != 0};
  sigset_t old;
  block_forwarded_signals(&old);

  auto [parent_end, child_end] = SyncChannel::make_pair();
  int cg_fd = cgroup->clone_into_fd();
  const bool parent_moves_child = cg_fd < 0 && join_files.empty();
  pid_t pid = clone_child(0, cg_fd, nullptr);
  if (pid < 0) throw_errno("clone exec process");
  if (pid == 0) {
    parent_end.close();
    exec_child(child, child_end);
  }
  child_end.close();
  join_files.clear();
  UniqueFd master;
  try {
    if (parent_moves_child) cgroup->add_process(pid);
    parent_end.send(SyncType::go);
    master = std::move(receive_handover(parent_end, WaitFor::exec, "exec process").pty_master);
  } catch (...) {
    Child(pid).kill_and_reap();
    sigprocmask(SIG_SETMASK, &old, nullptr);
    throw;
  }
  if (master && !o.console_socket.empty()) {
    send_console_master(o.console_socket, master.get());
    master.reset();
  }
  if (!o.pid_file.empty()) write_file_atomic(o.pid_file, std::to_string(pid), 0644, Sync::in_memory);
  if (o.detach) return 0;
  int rc = master ? relay_terminal(master.get(), pid) : wait_forwarding_signals(pid);
  sigprocmask(SIG_SETMASK, &old, nullptr);
  return rc;
}

}  // namespace kiln::runtime
