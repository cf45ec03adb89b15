// Processes and pipes with owners (STYLE.md: every process has an owner). A Child is killed and
// reaped when its owner goes, unless it was waited for or released, so no error path leaves a
// process behind or a zombie unreaped; kill-then-waitpid with the EINTR retry lives here once.
#pragma once
#include <sys/types.h>

#include <string>
#include <vector>

#include "common/unique_fd.hpp"

namespace kiln {

class Child {
 public:
  Child() = default;
  explicit Child(pid_t pid) : pid_(pid) {}
  ~Child() { kill_and_reap(); }
  Child(Child&& other) noexcept : pid_(other.release()) {}
  Child& operator=(Child&& other) noexcept;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  explicit operator bool() const { return pid_ > 0; }
  // Waits until it exits (EINTR retried) and returns the wait status; it is then no longer owned.
  int wait();
  // SIGKILL and reap; nothing when there is no child.
  void kill_and_reap() noexcept;
  // Stops owning it: it is neither killed nor reaped by us any more.
  pid_t release() {
    pid_t p = pid_;
    pid_ = -1;
    return p;
  }

 private:
  pid_t pid_ = -1;
};

// pidfd_open(2); throws kiln::Error naming the pid (ESRCH: it is gone).
UniqueFd open_pidfd(pid_t pid);
// pidfd_open(2), or an empty UniqueFd when the pid is gone or the kernel has no pidfds.
UniqueFd try_open_pidfd(pid_t pid);

struct Pipe {
  UniqueFd read;
  UniqueFd write;
};
// pipe2(2) with O_CLOEXEC (plus `flags`); throws kiln::Error.
Pipe make_pipe(int flags = 0);

// Runs a program that forks its daemon once it is ready and then exits (pasta, fuse-overlayfs):
// its exit status says whether that worked. On failure, output is what it wrote to stdout and
// stderr (read only then: a daemon that started may keep the pipe).
struct DaemonStart {
  bool ok = false;
  std::string output;
};
DaemonStart start_daemon(const std::vector<std::string>& args);

}  // namespace kiln
