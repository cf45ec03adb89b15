// The runtime's side of process.terminal: hand the pty master to a client's --console-socket
// (SCM_RIGHTS, as runc does; podman/conmon and containerd's shim wait for it), or, for a
// foreground `run` without a socket, relay between the caller's terminal and the pty.
#pragma once
#include <sys/types.h>

#include <string>

namespace kiln::runtime {

void send_console_master(const std::string& socket_path, int master_fd);

// Copies stdin -> master and master -> stdout until the process exits, forwarding signals;
// returns its exit status (128+N when killed by signal N).
int relay_terminal(int master_fd, pid_t pid);

}  // namespace kiln::runtime
