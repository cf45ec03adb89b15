// The signals a foreground runtime (run, exec) passes on to the container's process, and the
// clean slate a container process starts from. The runtime blocks the forwarded set BEFORE it
// clones, so no signal is lost between clone and the wait loop; the child resets it.
#pragma once
#include <signal.h>
#include <sys/types.h>

namespace kiln::runtime {

// SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH and SIGCHLD (to wake the wait).
sigset_t forwarded_signals();

// Blocks forwarded_signals(); the previous mask goes to *old.
void block_forwarded_signals(sigset_t* old);

// Waits for our child pid, passing every forwarded signal on to it; returns its exit status
// (128+N when killed by signal N). The set must already be blocked.
int wait_forwarding_signals(pid_t pid);

// In a freshly cloned child: default dispositions and an empty mask.
void reset_signals_for_exec();

}  // namespace kiln::runtime
