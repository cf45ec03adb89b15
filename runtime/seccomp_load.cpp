#include "runtime/seccomp_load.hpp"

#include <linux/seccomp.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/error.hpp"
#include "common/unique_fd.hpp"

namespace kiln::runtime {

int load_seccomp(const SeccompProgram& program) noexcept {
  if (program.insns.empty() || program.insns.size() > 0xffff) return -EINVAL;
  sock_fprog prog{};
  prog.len = static_cast<unsigned short>(program.insns.size());
  prog.filter = const_cast<sock_filter*>(program.insns.data());  // the kernel only reads it
  long rc = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, program.flags, &prog);
  if (rc < 0) return -errno;
  return program.needs_listener ? static_cast<int>(rc) : 0;
}

nlohmann::json seccomp_process_state(const nlohmann::json& state, int pid, std::string_view metadata) {
  nlohmann::json msg;
  msg["ociVersion"] = state.value("ociVersion", "1.0.2");
  msg["fds"] = nlohmann::json::array({"seccompFd"});
  msg["pid"] = pid;
  msg["metadata"] = std::string(metadata);
  msg["state"] = state;
  return msg;
}

void send_listener_fd(const std::string& listener_path, int listener_fd, const nlohmann::json& payload) {
  const std::string what = "send seccomp listener fd to " + listener_path;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (listener_path.empty() || listener_path.size() >= sizeof addr.sun_path)
    throw Error(what + ": socket path empty or too long");
  std::memcpy(addr.sun_path, listener_path.c_str(), listener_path.size() + 1);
  UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!sock) throw_errno(what + ": socket");
  int rc;
  do {
    rc = ::connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) throw_errno(what + ": connect");

  std::string data = payload.dump();
  // The fd travels with the first bytes; the rest (if the socket takes less) follows plainly.
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  std::size_t sent = 0;
  while (sent < data.size()) {
    iovec iov{data.data() + sent, data.size() - sent};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (sent == 0) {
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int));
      std::memcpy(CMSG_DATA(c), &listener_fd, sizeof(int));
    }
    ssize_t n = ::sendmsg(sock.get(), &msg, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno(what + ": sendmsg");
    sent += static_cast<std::size_t>(n);
  }
}

}  // namespace kiln::runtime
