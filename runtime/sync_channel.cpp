#include "runtime/sync_channel.hpp"

#include <sys/socket.h>

#include <cstring>

#include "common/error.hpp"
#include "common/fd_passing.hpp"

namespace kiln::runtime {

std::pair<SyncChannel, SyncChannel> SyncChannel::make_pair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) throw_errno("socketpair");
  return {SyncChannel(UniqueFd(fds[0])), SyncChannel(UniqueFd(fds[1]))};
}

void SyncChannel::send(SyncType type) const { send_fd(type, -1); }

Error SyncMessage::to_error() const {
  std::string message = stage[0] ? std::string(stage) + ": " + text : std::string(text);
  return Error(message, err, kind, origin[0] ? std::string(origin) : std::string(text));
}

void SyncChannel::send_error(const char* stage, const std::exception& e) const {
  SyncMessage msg;
  msg.type = SyncType::error;
  if (auto* ke = dynamic_cast<const Error*>(&e)) {
    msg.err = ke->code();
    msg.kind = ke->kind();
    std::strncpy(msg.origin, ke->origin().c_str(), sizeof msg.origin - 1);
  }
  std::strncpy(msg.stage, stage, sizeof msg.stage - 1);
  std::strncpy(msg.text, e.what(), sizeof msg.text - 1);
  ::send(fd_.get(), &msg, sizeof msg, MSG_NOSIGNAL);
}

void SyncChannel::send_fd(SyncType type, int fd) const {
  SyncMessage msg;
  msg.type = type;
  with_context("sync message", [&] { send_with_fd(fd_.get(), &msg, sizeof msg, fd); });
}

SyncMessage SyncChannel::receive(UniqueFd* fd_out) const {
  SyncMessage msg;
  struct iovec iov = {&msg, sizeof msg};
  struct msghdr mh {};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  mh.msg_control = control;
  mh.msg_controllen = sizeof control;
  ssize_t n;
  while ((n = ::recvmsg(fd_.get(), &mh, MSG_CMSG_CLOEXEC)) < 0) {
    if (errno != EINTR) throw_errno("receive sync message");
  }
  if (n == 0) {
    msg = SyncMessage{};
    msg.type = SyncType::error;
    msg.err = EPIPE;
    std::strcpy(msg.text, "container init exited during setup");
    return msg;
  }
  for (struct cmsghdr* cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
    if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(cm), sizeof fd);
      UniqueFd owned(fd);  // closed here unless the caller takes it
      if (fd_out) *fd_out = std::move(owned);
    }
  }
  return msg;
}

void SyncChannel::expect(SyncType want, UniqueFd* fd_out) const {
  SyncMessage msg = receive(fd_out);
  if (msg.type == SyncType::error) throw msg.to_error();
  if (msg.type != want)
    throw Error("sync: expected message " + std::to_string(static_cast<uint32_t>(want)) + ", got " +
                std::to_string(static_cast<uint32_t>(msg.type)));
}

}  // namespace kiln::runtime
