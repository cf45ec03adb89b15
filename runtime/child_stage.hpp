// What the two ways into a container share (the init at create, a process at exec): the clone,
// the child reporting its failure, and the parent collecting what the child hands over until
// it is ready.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <exception>

#include "common/unique_fd.hpp"
#include "runtime/sync_channel.hpp"

namespace kiln::runtime {

// clone3 with `flags`, into the cgroup `cgroup_fd` when it is >= 0, with a pidfd when `pidfd`
// is given. Without clone3 (old kernels) a plain clone when nothing needs clone3. -1 on failure
// (errno set); 0 in the child.
pid_t clone_child(uint64_t flags, int cgroup_fd, UniqueFd* pidfd);

// In the child: sends `e` as the failure of `stage` and exits like a shell would (127 when
// something was not found, else 126). `to_stderr` also prints it where the process's output
// goes, for stages after the parent stopped listening.
[[noreturn]] void child_failed(const SyncChannel& channel, const char* stage, const std::exception& e,
                               bool to_stderr = false);

// The fds a child may hand over before it is ready.
struct ChildHandover {
  UniqueFd pty_master;
  UniqueFd seccomp_listener;
};
enum class WaitFor {
  ready,  // the child said ready (it waits for start)
  exec,   // ready, then the channel closed: the child exec'd (the socket is close-on-exec)
};
// In the parent: receives until `until`; an error from the child is rethrown as the kiln::Error
// it was; `who` names the child in a protocol error.
ChildHandover receive_handover(const SyncChannel& channel, WaitFor until, const char* who);

}  // namespace kiln::runtime
