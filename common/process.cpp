#include "common/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "common/error.hpp"

namespace kiln {

Child& Child::operator=(Child&& other) noexcept {
  if (this != &other) {
    kill_and_reap();
    pid_ = other.release();
  }
  return *this;
}

int Child::wait() {
  int status = 0;
  pid_t p = release();
  if (p <= 0) throw Error("wait: no child process", ECHILD);
  while (::waitpid(p, &status, 0) < 0) {
    if (errno != EINTR) throw_errno("wait for process " + std::to_string(p));
  }
  return status;
}

void Child::kill_and_reap() noexcept {
  pid_t p = release();
  if (p <= 0) return;
  ::kill(p, SIGKILL);
  int status;
  while (::waitpid(p, &status, 0) < 0 && errno == EINTR) {
  }
}

UniqueFd try_open_pidfd(pid_t pid) { return UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0))); }

UniqueFd open_pidfd(pid_t pid) {
  UniqueFd fd = try_open_pidfd(pid);
  if (!fd) throw_errno("pidfd_open " + std::to_string(pid));
  return fd;
}

Pipe make_pipe(int flags) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC | flags) != 0) throw_errno("pipe");
  return {UniqueFd(p[0]), UniqueFd(p[1])};
}

}  // namespace kiln
