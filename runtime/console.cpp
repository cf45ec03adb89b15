#include "runtime/console.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cstring>

#include "common/fd_passing.hpp"
#include "common/error.hpp"
#include "common/signals.hpp"
#include "common/unique_fd.hpp"
#include "runtime/signal_forwarding.hpp"

namespace kiln::runtime {

void send_console_master(const std::string& socket_path, int master_fd) {
  UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!sock) throw_errno("console socket");
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path) throw Error("console socket " + socket_path + ": path too long");
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size());
  if (::connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    throw_errno("connect to console socket " + socket_path);
  // runc sends the pty's name as the payload; clients only read the fd.
  static const char name[] = "/dev/ptmx";
  with_context("send pty to console socket " + socket_path,
               [&] { send_with_fd(sock.get(), name, sizeof name - 1, master_fd); });
}

namespace {

// Puts the caller's terminal in raw mode for the relay and restores it after.
class RawTerminal {
 public:
  RawTerminal() {
    if (::isatty(0) && ::tcgetattr(0, &saved_) == 0) {
      struct termios raw = saved_;
      ::cfmakeraw(&raw);
      active_ = ::tcsetattr(0, TCSANOW, &raw) == 0;
    }
  }
  ~RawTerminal() {
    if (active_) ::tcsetattr(0, TCSANOW, &saved_);
  }

 private:
  struct termios saved_ {};
  bool active_ = false;
};

bool copy_some(int from, int to) {
  char buf[8192];
  ssize_t n = ::read(from, buf, sizeof buf);
  if (n <= 0) return false;
  ssize_t off = 0;
  while (off < n) {
    ssize_t w = ::write(to, buf + off, static_cast<size_t>(n - off));
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    off += w;
  }
  return true;
}

}  // namespace

int relay_terminal(int master_fd, pid_t pid) {
  sigset_t set = forwarded_signals();
  sigprocmask(SIG_BLOCK, &set, nullptr);
  UniqueFd sfd(::signalfd(-1, &set, SFD_CLOEXEC));
  if (!sfd) throw_errno("signalfd");
  if (::isatty(0)) {
    struct winsize ws;
    if (::ioctl(0, TIOCGWINSZ, &ws) == 0) ::ioctl(master_fd, TIOCSWINSZ, &ws);
  }
  RawTerminal raw;
  bool stdin_open = true, master_open = true;
  for (;;) {
    int status;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      while (master_open && copy_some(master_fd, 1)) {
      }
      return exit_status_from_wait(status);
    }
    struct pollfd fds[3] = {
        {sfd.get(), POLLIN, 0}, {stdin_open ? 0 : -1, POLLIN, 0}, {master_open ? master_fd : -1, POLLIN, 0}};
    if (::poll(fds, 3, -1) < 0 && errno != EINTR) throw_errno("poll terminal");
    if (fds[0].revents & POLLIN) {
      struct signalfd_siginfo si;
      if (::read(sfd.get(), &si, sizeof si) == sizeof si && si.ssi_signo != SIGCHLD) {
        if (si.ssi_signo == SIGWINCH) {
          struct winsize ws;
          if (::ioctl(0, TIOCGWINSZ, &ws) == 0) ::ioctl(master_fd, TIOCSWINSZ, &ws);
        } else {
          ::kill(pid, static_cast<int>(si.ssi_signo));
        }
      }
    }
    if (fds[1].revents & (POLLIN | POLLHUP)) stdin_open = copy_some(0, master_fd);
    if (fds[2].revents & (POLLIN | POLLHUP | POLLERR)) master_open = copy_some(master_fd, 1);
  }
}

}  // namespace kiln::runtime
