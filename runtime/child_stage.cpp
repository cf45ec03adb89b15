#include "runtime/child_stage.hpp"

#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>

#include "common/error.hpp"

namespace kiln::runtime {

pid_t clone_child(uint64_t flags, int cgroup_fd, UniqueFd* pidfd) {
  struct clone_args args {};
  int raw_pidfd = -1;
  args.flags = flags;
  if (pidfd) {
    args.flags |= CLONE_PIDFD;
    args.pidfd = reinterpret_cast<uint64_t>(&raw_pidfd);
  }
  args.exit_signal = SIGCHLD;
  if (cgroup_fd >= 0) {
    args.flags |= CLONE_INTO_CGROUP;
    args.cgroup = static_cast<uint64_t>(cgroup_fd);
  }
  long pid = ::syscall(SYS_clone3, &args, sizeof args);
  if (pid < 0 && errno == ENOSYS && cgroup_fd < 0 && !(flags & CLONE_NEWTIME)) {
    raw_pidfd = -1;
    pid = ::syscall(SYS_clone, flags | SIGCHLD, nullptr, nullptr, nullptr, 0);
  }
  if (pid > 0 && pidfd) pidfd->reset(raw_pidfd);
  return static_cast<pid_t>(pid);
}

void child_failed(const SyncChannel& channel, const char* stage, const std::exception& e, bool to_stderr) {
  int err = 0;
  if (auto* ke = dynamic_cast<const Error*>(&e)) err = ke->code();
  channel.send_error(stage, e);
  if (to_stderr) ::dprintf(2, "kiln-runtime: %s\n", e.what());
  ::_exit(err == ENOENT ? 127 : 126);
}

ChildHandover receive_handover(const SyncChannel& channel, WaitFor until, const char* who) {
  ChildHandover out;
  for (bool ready = false;;) {
    UniqueFd fd;
    SyncMessage msg = channel.receive(&fd);
    switch (msg.type) {
      case SyncType::pty_master: out.pty_master = std::move(fd); continue;
      case SyncType::seccomp_listener: out.seccomp_listener = std::move(fd); continue;
      case SyncType::ready:
        if (until == WaitFor::ready) return out;
        ready = true;
        continue;
      case SyncType::error:
        // The peer gone without a stage, after ready: the close-on-exec socket closed at execve.
        if (until == WaitFor::exec && ready && msg.err == EPIPE && !msg.stage[0]) return out;
        throw msg.to_error();
      default:
        throw Error(std::string("sync: unexpected message ") + std::to_string(static_cast<uint32_t>(msg.type)) +
                    " from " + who);
    }
  }
}

}  // namespace kiln::runtime
