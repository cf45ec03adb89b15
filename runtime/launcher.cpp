#include "runtime/launcher.hpp"

#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/error.hpp"
#include "common/failpoint.hpp"
#include "common/files.hpp"
#include "common/process.hpp"
#include "runtime/child_stage.hpp"
#include "runtime/container_cgroup.hpp"
#include "runtime/id_maps.hpp"

namespace kiln::runtime {
Launched launch(const Spec& spec, const LaunchOptions& options) {
  if (!spec.has_process) throw Error("config.json: process: missing");

  InitConfig cfg;
  cfg.spec = &spec;
  cfg.mounts = plan_mounts(spec, options.cgroup ? options.cgroup->paths() : std::map<std::string, std::string>{});
  cfg.no_pivot = options.no_pivot;
  cfg.preserve_fds = options.preserve_fds;
  cfg.pause_for_hooks = static_cast<bool>(options.create_runtime_hooks);
  cfg.create_container_hooks = options.create_container_hooks;
  cfg.start_container_hooks = options.start_container_hooks;
  cfg.seccomp = options.seccomp;
  cfg.detached_mounts = options.detached_mounts;
  auto stamps = std::make_unique<ChildStageStamps>();
  cfg.stamps = stamps.get();

  // Namespaces (runtime/namespace_plan.hpp says who makes which, and when).
  const NamespacePlan& ns_plan = cfg.namespaces = plan_namespaces(spec.linux);
  const uint64_t flags = ns_plan.clone_flags;
  const Namespace* user = spec.linux.find_namespace("user");
  if (!ns_plan.pid_path.empty()) {
    // setns(pid) only affects children: join it here so the clone lands in it.
    UniqueFd pidns_fd = open_file(ns_plan.pid_path, O_RDONLY);
    if (::setns(pidns_fd.get(), CLONE_NEWPID) != 0) throw_errno("join pid namespace " + ns_plan.pid_path);
  }
  if (ns_plan.new_time) {
    // Offsets can only be written before any process lives in the time namespace: unshare
    // it here (that only affects our children), set the offsets, then clone into it.
    if (::unshare(CLONE_NEWTIME) != 0) throw_errno("create time namespace");
    std::string offsets;
    for (const auto& [clock, off] : spec.linux.time_offsets)
      offsets += clock + " " + std::to_string(off.first) + " " + std::to_string(off.second) + "\n";
    if (!offsets.empty()) with_context("linux.timeOffsets", [&] { write_file("/proc/self/timens_offsets", offsets); });
  }
  cfg.new_session_keyring = !options.no_new_keyring;
  // The maps are written from outside; an unprivileged caller's own-ids map denies setgroups.
  const IdMapWriter id_map_writer = user && user->path.empty() ? choose_id_map_writer(spec) : IdMapWriter::direct;
  // Without a user namespace of its own the container stays in ours, where setgroups may be
  // denied already (a rootless kiln session without a range).
  const bool new_user_ns = user && user->path.empty();
  cfg.setgroups_allowed = new_user_ns
                              ? id_map_writer != IdMapWriter::own_ids
                              : read_file_if_exists("/proc/self/setgroups").value_or("allow").rfind("deny", 0) != 0;
  cfg.dumpable_until_maps = user && user->path.empty() && id_map_writer != IdMapWriter::direct;
  cfg.bind_devices = user || unprivileged_caller();

  UniqueFd fifo;
  if (!options.exec_fifo.empty()) fifo = open_file(options.exec_fifo, O_RDWR);
  cfg.exec_fifo_fd = fifo.get();

  auto [parent_end, child_end] = SyncChannel::make_pair();
  int cgroup_fd = options.cgroup ? options.cgroup->clone_into_fd() : -1;
  std::vector<cgroups::Manager::JoinFile> join_files;
  if (options.cgroup) join_files = options.cgroup->open_join_files();
  cfg.cgroup_join_files = &join_files;
  const bool parent_moves_child = options.cgroup && cgroup_fd < 0 && join_files.empty();
  UniqueFd pidfd;
  spdlog::debug("launch: clone3 flags {:#x}", flags);
  log_stage("clone");
  pid_t pid = clone_child(flags, cgroup_fd, &pidfd);
  if (pid < 0) throw_errno("clone container init");
  if (pid == 0) {
    parent_end.close();
    container_init(cfg, child_end);
  }
  child_end.close();
  fifo.reset();
  join_files.clear();
  Launched out;
  out.pid = pid;
  out.pidfd = std::move(pidfd);
  out.stamps = std::move(stamps);
  try {
    spdlog::debug("launch: init is pid {}", pid);
    KILN_FAILPOINT("launch-after-clone");
    log_stage("id maps");
    if (user && user->path.empty()) write_id_maps(pid, spec, id_map_writer);
    KILN_FAILPOINT("launch-after-id-maps");
    // Usually clone3 and the child itself do this (open_join_files): a move by pid waits for
    // an RCU grace period.
    if (parent_moves_child) options.cgroup->add_process(pid);
    log_stage("go");
    parent_end.send(SyncType::go);
    if (options.create_runtime_hooks) {
      parent_end.expect(SyncType::create_hooks);
      options.create_runtime_hooks(pid);
      parent_end.send(SyncType::hooks_done);
    }
    // Before "ready" the child may hand us fds: its pty master, its seccomp notify fd.
    ChildHandover handover = receive_handover(parent_end, WaitFor::ready, "container init");
    out.pty_master = std::move(handover.pty_master);
    out.seccomp_listener = std::move(handover.seccomp_listener);
    log_stage("ready");
    out.stamps->log_new();
    spdlog::debug("launch: init {} is ready", pid);
  } catch (...) {
    out.stamps->log_new();
    Child(pid).kill_and_reap();
    throw;
  }
  out.channel = std::move(parent_end);
  return out;
}

}  // namespace kiln::runtime
