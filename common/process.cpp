#include "common/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "common/error.hpp"
#include "common/files.hpp"

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

DaemonStart start_daemon(const std::vector<std::string>& args) {
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  Pipe out = make_pipe();
  pid_t pid = ::fork();
  if (pid < 0) throw_errno("fork " + args.at(0));
  if (pid == 0) {
    ::dup2(out.write.get(), 1);
    ::dup2(out.write.get(), 2);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  Child child(pid);
  out.write.reset();
  int status = child.wait();
  DaemonStart r;
  r.ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (!r.ok) r.output = read_fd(out.read.get());
  return r;
}

}  // namespace kiln
