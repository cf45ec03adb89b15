// The process tree: kiln-runtime clones ONE child with the new namespaces (clone3, no re-exec
// of our binary, so no /proc/self/exe of ours is ever visible as a container process that a
// container could open: the child is non-dumpable until execve). The parent writes the id
// maps and says "go"; the child moves itself into the v1 cgroups clone3 could not place it in
// (Manager::open_join_files), joins namespaces given by path, sets up mounts, devices,
// pivot_root, masked paths, identity and capabilities,
// says "ready", waits for start (exec fifo for create, a message for run) and execs the
// process. A pid namespace makes the child PID 1; the parent never needs a second fork.
#include "runtime/container_init.hpp"

#include <fcntl.h>
#include <linux/mount.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sched.h>
#include <signal.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include "common/error.hpp"
#include "common/failpoint.hpp"
#include "common/files.hpp"
#include "common/in_root.hpp"
#include "common/logging.hpp"
#include "common/stage_clock.hpp"
#include "runtime/child_stage.hpp"
#include "runtime/process_setup.hpp"
#include "runtime/rootfs.hpp"
#include "runtime/signal_forwarding.hpp"
#include "runtime/sysctl.hpp"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

namespace kiln::runtime {
namespace {

// CVE-2024-21626: no fd of the caller's may survive into the container (a leaked directory
// fd reached via /proc/self/fd would be a way out of the rootfs). Close everything except
// stdio, the preserved fds and our own channel/fifo, before any path from the spec is used.
void close_inherited_fds(int preserve_fds, std::vector<int> keep) {
  int first = 3 + std::max(preserve_fds, 0);
  keep.erase(std::remove_if(keep.begin(), keep.end(), [&](int fd) { return fd < first; }), keep.end());
  std::sort(keep.begin(), keep.end());
  unsigned int from = static_cast<unsigned int>(first);
  for (int fd : keep) {
    if (static_cast<unsigned int>(fd) > from) ::syscall(SYS_close_range, from, static_cast<unsigned int>(fd - 1), 0);
    from = static_cast<unsigned int>(fd + 1);
  }
  ::syscall(SYS_close_range, from, ~0U, 0);
}

// The plan lists the user namespace first: it decides what we may do in the others.
void join_namespaces(const NamespacePlan& plan) {
  for (const NamespaceJoin& ns : plan.joins) {
    UniqueFd fd = open_file(ns.path, O_RDONLY);
    if (::setns(fd.get(), ns.clone_flag) != 0) throw_errno("join " + ns.type + " namespace " + ns.path);
  }
}

void write_oom_score_adj(int value) { write_file("/proc/self/oom_score_adj", std::to_string(value)); }

// move_mount(2) the detached mount fd onto destination inside the rootfs.
void attach_detached_mount(int rootfs_fd, int mount_fd, const std::string& destination) {
  UniqueFd ours(mount_fd);  // this process's copy: the container must not keep it
  UniqueFd target = mkdir_all_in_root(rootfs_fd, destination);
  // The target must be the fd itself: a /proc/self/fd/N path gives EINVAL here.
  if (::syscall(SYS_move_mount, mount_fd, "", target.get(), "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
    throw_errno("move_mount");
}

// A new network namespace has only `lo`, and it is down; containers expect 127.0.0.1 to work.
void bring_loopback_up() {
  UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!sock) throw_errno("socket for loopback");
  struct ifreq ifr {};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(sock.get(), SIOCGIFFLAGS, &ifr) != 0) throw_errno("read flags of lo");
  if (ifr.ifr_flags & IFF_UP) return;
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP | IFF_RUNNING);
  if (::ioctl(sock.get(), SIOCSIFFLAGS, &ifr) != 0) throw_errno("bring lo up");
}

// Joins the namespaces given by path and makes the ones that must come after the user
// namespace; sets the names of a new uts namespace.
void enter_namespaces(const Spec& spec, const NamespacePlan& plan) {
  join_namespaces(plan);
  if (spec.linux.has_namespace("user")) {
    // Until now we were the overflow id; become the namespace's root (mapped by the parent).
    if (::setresgid(0, 0, 0) != 0) throw_errno("setgid 0 in the user namespace");
    if (::setresuid(0, 0, 0) != 0) throw_errno("setuid 0 in the user namespace");
  }
  if (plan.unshare_after_user_join && ::unshare(plan.unshare_after_user_join) != 0) throw_errno("create namespaces");
  if (plan.new_cgroup && ::unshare(CLONE_NEWCGROUP) != 0) throw_errno("create cgroup namespace");
  if (!spec.hostname.empty() && ::sethostname(spec.hostname.data(), spec.hostname.size()) != 0)
    throw_errno("set hostname " + spec.hostname);
  if (!spec.domainname.empty() && ::setdomainname(spec.domainname.data(), spec.domainname.size()) != 0)
    throw_errno("set domainname " + spec.domainname);
}

// The container's mounts, under a rootfs fd, while we are still outside it (pivot comes later).
UniqueFd mount_rootfs(const InitConfig& cfg, const SyncChannel& channel) {
  const Spec& spec = *cfg.spec;
  UniqueFd rootfs = prepare_rootfs(spec, cfg.mounts, cfg.bind_devices, cfg.stamps);
  for (const auto& m : cfg.detached_mounts)
    with_context("attach mount at " + m.second, [&] { attach_detached_mount(rootfs.get(), m.first, m.second); });
  if (spec.linux.has_namespace("network") && !spec.linux.find_namespace("network")->path.size()) bring_loopback_up();
  if (cfg.pause_for_hooks) {
    channel.send(SyncType::create_hooks);
    channel.expect(SyncType::hooks_done);
  }
  return rootfs;
}

void pivot_into_rootfs(const InitConfig& cfg, UniqueFd rootfs) {
  const Spec& spec = *cfg.spec;
  const Process& proc = spec.process;
  enter_rootfs(spec, rootfs.get(), cfg.no_pivot);
  rootfs.reset();
  // process.cwd is created inside the new root (it is "/" now: nothing resolves above it),
  // before the root may turn read-only.
  with_context("process.cwd " + proc.cwd, [&] {
    UniqueFd root = open_file("/", O_PATH | O_DIRECTORY);
    mkdir_all_in_root(root.get(), proc.cwd);
  });
  finish_rootfs(spec);
}

// `create` + `start` wait on the exec fifo (start opens it), `run` on the channel.
void wait_for_start(const InitConfig& cfg, const SyncChannel& channel) {
  if (cfg.exec_fifo_fd >= 0) {
    // Until create has written down our pid, a kill -9 of it would leave us waiting forever
    // (we hold the fifo's write side too, so it never reads EOF) where no state points: the
    // channel closing before this message says create died, and we exit.
    channel.expect(SyncType::handed_over);
    char byte;
    ssize_t n;
    while ((n = ::read(cfg.exec_fifo_fd, &byte, 1)) < 0 && errno == EINTR) {
    }
    if (n != 1) throw_errno("wait for start on exec fifo", n == 0 ? EPIPE : errno);
  } else {
    channel.expect(SyncType::start);
  }
}

void stamp(const InitConfig& cfg, std::string_view name) {
  if (cfg.stamps) cfg.stamps->stamp(name);
}

}  // namespace

void container_init(const InitConfig& cfg, const SyncChannel& channel) {
  const Spec& spec = *cfg.spec;
  const Process& proc = spec.process;
  const char* stage = "wait for parent";
  stamp(cfg, "init:start");
  try {
    // No one outside may open /proc/<us>/exe (our binary on the host) while we are still
    // kiln-runtime; execve resets this for the container's process (CVE-2019-5736). (Until the
    // maps are written, only processes of the unprivileged caller's own uid could; nothing of the
    // container runs yet.)
    if (!cfg.dumpable_until_maps) ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    // The runtime blocks the signals it forwards; the container starts with a clean slate.
    reset_signals_for_exec();
    // The --log file stays for our own debug lines; it is O_CLOEXEC, so the process never has it.
    std::vector<int> keep = {channel.fd(), cfg.exec_fifo_fd, log_file_fd()};
    for (const auto& m : cfg.detached_mounts) keep.push_back(m.first);
    for (const auto& f : *cfg.cgroup_join_files) keep.push_back(f.fd.get());
    close_inherited_fds(cfg.preserve_fds, keep);
    channel.expect(SyncType::go);
    if (cfg.dumpable_until_maps) ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    stage = "join cgroup";
    stamp(cfg, "init:join cgroup");
    cgroups::join_self(*cfg.cgroup_join_files);  // one thread: moving it moves the process
    KILN_FAILPOINT("init-after-cgroup-join");

    stage = "join namespaces";
    stamp(cfg, "init:join namespaces");
    enter_namespaces(spec, cfg.namespaces);

    // The caller's session keyring (and the keys in it) must not be shared with the container.
    if (cfg.new_session_keyring) ::syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, nullptr);
    stage = "sysctl";
    stamp(cfg, "init:sysctl");
    apply_sysctl(spec.linux.sysctl);
    if (proc.oom_score_adj) with_context("process.oomScoreAdj", [&] { write_oom_score_adj(*proc.oom_score_adj); });

    stage = "mount rootfs";
    stamp(cfg, "init:mount rootfs");
    UniqueFd rootfs = mount_rootfs(cfg, channel);
    stage = "createContainer hooks";
    if (cfg.create_container_hooks) {
      stamp(cfg, "init:createContainer hooks");
      cfg.create_container_hooks();
    }

    stage = "pivot_root";
    stamp(cfg, "init:pivot_root");
    KILN_FAILPOINT("init-before-pivot");
    pivot_into_rootfs(cfg, std::move(rootfs));
    stage = "set up process";
    stamp(cfg, "init:set up process");
    if (proc.terminal) setup_terminal(proc, channel);
    if (spec.linux.personality && ::personality(*spec.linux.personality) < 0) throw_errno("set personality");
    if (spec.linux.memory_policy) apply_memory_policy(*spec.linux.memory_policy);
    PreparedExec exec =
        prepare_process(proc, cfg.seccomp, channel, cfg.setgroups_allowed, cfg.preserve_fds, cfg.stamps);

    stage = "wait for start";
    stamp(cfg, "init:wait for start");
    channel.send(SyncType::ready);
    wait_for_start(cfg, channel);
    stage = "startContainer hooks";
    if (cfg.start_container_hooks) {
      stamp(cfg, "init:startContainer hooks");
      cfg.start_container_hooks();
    }

    stage = "exec";
    stamp(cfg, "init:exec");
    exec_prepared(exec);
  } catch (const std::exception& e) {
    // After `create` returned nobody reads the channel: say it where the process's output goes.
    child_failed(channel, stage, e, std::strcmp(stage, "exec") == 0 || std::strcmp(stage, "startContainer hooks") == 0);
  }
}

}  // namespace kiln::runtime
