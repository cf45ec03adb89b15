// kiln-monitor: what a detached container's monitor becomes once the container runs.
//
// Every running detached container costs the host one monitor process, for as long as it runs
// (conmon's role for podman). kiln's monitor forks from kiln, creates and starts the container
// (whose init is then its child), and execs this program: same pid, same parent-child link to
// the init, but none of kiln's heap, libraries or page tables. It only waits: for the init to
// exit, or for the --timeout deadline. Then it execs kiln again to finish (record the status,
// remove the runtime state, unmount, detach networks, --rm), as conmon runs podman's exit
// command. So it uses libc alone and no allocation, and is linked statically when it can be.
//
//   kiln-monitor PID DEADLINE_NS -- KILN [ARGS...]
// PID: the container's init (a child of this process). DEADLINE_NS: a CLOCK_MONOTONIC time at
// which the container is killed (0: none). Runs KILN ARGS... --status N when the init exited
// with status N (128+signal when killed), or KILN ARGS... --timed-out at the deadline.
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

namespace {

// Its stderr is the container's log: a failure is said there, on one line.
[[noreturn]] void fail(const char* what) {
  int err = errno;
  dprintf(2, "kiln-monitor: %s: %s\n", what, strerror(err));
  _exit(125);
}

bool parse_number(const char* s, long long& out) {
  char* end = nullptr;
  errno = 0;
  out = strtoll(s, &end, 10);
  return errno == 0 && end != s && *end == '\0' && out >= 0;
}

long long monotonic_ns() {
  struct timespec ts = {};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<long long>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

// Milliseconds until the deadline for poll(): -1 without one, rounded up so it never spins.
int poll_timeout(long long deadline_ns) {
  if (deadline_ns == 0) return -1;
  long long left = deadline_ns - monotonic_ns();
  if (left <= 0) return 0;
  long long ms = (left + 999999) / 1000000;
  return ms > 86400000 ? 86400000 : static_cast<int>(ms);
}

int status_of(int wstatus) {
  if (WIFEXITED(wstatus)) return WEXITSTATUS(wstatus);
  if (WIFSIGNALED(wstatus)) return 128 + WTERMSIG(wstatus);
  return 255;
}

}  // namespace

int main(int argc, char** argv) {
  long long pid = 0;
  long long deadline = 0;
  if (argc < 5 || !parse_number(argv[1], pid) || pid <= 0 || !parse_number(argv[2], deadline) ||
      strcmp(argv[3], "--") != 0) {
    dprintf(2, "usage: kiln-monitor PID DEADLINE_NS -- KILN [ARGS...] (run by kiln, not by hand)\n");
    return 125;
  }
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, static_cast<pid_t>(pid), 0));
  if (pidfd < 0 && errno != ESRCH) fail("watch the container's process");
  bool timed_out = false;
  while (pidfd >= 0) {
    struct pollfd p = {pidfd, POLLIN, 0};
    int n = poll(&p, 1, poll_timeout(deadline));
    if (n > 0) break;
    if (n == 0) {
      timed_out = true;
      break;
    }
    if (errno != EINTR) fail("wait for the container's process");
  }
  // The finishing kiln reaps the init itself after killing it at the deadline.
  char status_arg[16] = "";
  if (!timed_out) {
    int wstatus = 0;
    while (waitpid(static_cast<pid_t>(pid), &wstatus, 0) < 0)
      if (errno != EINTR) fail("reap the container's process");
    snprintf(status_arg, sizeof status_arg, "%d", status_of(wstatus));
  }
  // KILN ARGS... plus --status N or --timed-out: at most argc - 4 + 2 + the terminating null.
  char* args[256];
  int n = 0;
  for (int i = 4; i < argc && n < 252; ++i) args[n++] = argv[i];
  if (timed_out) {
    args[n++] = const_cast<char*>("--timed-out");
  } else {
    args[n++] = const_cast<char*>("--status");
    args[n++] = status_arg;
  }
  args[n] = nullptr;
  if (pidfd >= 0) close(pidfd);
  execv(args[0], args);
  fail("run kiln to finish the container");
}
