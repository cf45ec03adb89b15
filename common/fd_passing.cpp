#include "common/fd_passing.hpp"

#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstring>

#include "common/error.hpp"

namespace kiln {

void send_with_fd(int sock, const void* data, std::size_t size, int fd) {
  struct iovec iov = {const_cast<void*>(data), size};
  struct msghdr mh {};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  if (fd >= 0) {
    mh.msg_control = control;
    mh.msg_controllen = sizeof control;
    struct cmsghdr* cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(cm), &fd, sizeof fd);
  }
  while (::sendmsg(sock, &mh, MSG_NOSIGNAL) < 0) {
    if (errno != EINTR) throw_errno("send");
  }
}

}  // namespace kiln
