// Sending one file descriptor over a unix socket (SCM_RIGHTS) with a payload: the sync
// channel's typed messages and the console socket's pty master both go this way.
#pragma once
#include <cstddef>

namespace kiln {

// sendmsg(2) of `size` bytes at `data` with `fd` attached (none when fd < 0), MSG_NOSIGNAL,
// EINTR retried. Throws kiln::Error("send: ...").
void send_with_fd(int sock, const void* data, std::size_t size, int fd);

}  // namespace kiln
