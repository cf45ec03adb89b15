#include "runtime/signal_forwarding.hpp"

#include <spdlog/spdlog.h>
#include <sys/wait.h>

#include "common/error.hpp"
#include "common/signals.hpp"

namespace kiln::runtime {

sigset_t forwarded_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCHLD}) sigaddset(&set, s);
  return set;
}

void block_forwarded_signals(sigset_t* old) {
  sigset_t set = forwarded_signals();
  sigprocmask(SIG_BLOCK, &set, old);
}

int wait_forwarding_signals(pid_t pid) {
  sigset_t set = forwarded_signals();
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

void reset_signals_for_exec() {
  for (int sig = 1; sig < NSIG; ++sig)
    if (sig != SIGKILL && sig != SIGSTOP) ::signal(sig, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

}  // namespace kiln::runtime
