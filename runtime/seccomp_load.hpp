// Installing a compiled seccomp program in the container child, and handing a user-notification
// fd to the listener named by linux.seccomp.listenerPath.
//
// Where the launcher calls load_seccomp: as late as possible, right before execve, so the filter
// need not allow what the runtime itself does. The kernel only accepts a filter from a task that
// has no_new_privs set or CAP_SYS_ADMIN in its user namespace (else EACCES). So:
//   - process.noNewPrivileges true: prctl(PR_SET_NO_NEW_PRIVS), drop capabilities, then load.
//   - noNewPrivileges false: load while CAP_SYS_ADMIN is still held, i.e. before dropping
//     capabilities; the filter must then allow capset/prctl and whatever follows it.
// Everything the child does between the load and execve (writing to the sync socket, closing
// fds, execve itself) goes through the filter: a profile that denies those fails the start.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "runtime/seccomp_compile.hpp"

namespace kiln::runtime {

// seccomp(SECCOMP_SET_MODE_FILTER, program.flags, {insns}). Returns the listener fd (already
// close-on-exec) when program.needs_listener, 0 otherwise, or -errno on failure (EACCES: neither
// no_new_privs nor CAP_SYS_ADMIN; EINVAL: a flag or the program is not accepted; ESRCH: TSYNC
// found a thread with another filter). Allocation-free and async-signal-safe: it makes one
// system call on memory the caller owns, so it is safe in a freshly cloned child.
int load_seccomp(const SeccompProgram& program) noexcept;

// The "container process state" the spec sends to a seccomp agent: ociVersion, fds
// ["seccompFd"], pid, metadata (listenerMetadata) and state (the container's state JSON).
nlohmann::json seccomp_process_state(const nlohmann::json& state, int pid, std::string_view metadata);

// Connects to the unix socket listener_path and sends payload (one message) with listener_fd in
// SCM_RIGHTS. Run by the runtime (not the child) after it receives the fd from the child.
// Throws kiln::Error naming the path.
void send_listener_fd(const std::string& listener_path, int listener_fd, const nlohmann::json& payload);

}  // namespace kiln::runtime
