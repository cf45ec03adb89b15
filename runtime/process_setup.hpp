// The last steps before execve, shared by a container's init and by `exec`: terminal, rlimits,
// identity and capabilities, no_new_privs, cwd, the program's path, seccomp (loaded as late as
// the kernel allows: right before exec with no_new_privs, before dropping CAP_SYS_ADMIN without).
#pragma once
#include <string>
#include <vector>

#include "runtime/seccomp_compile.hpp"
#include "runtime/spec.hpp"
#include "runtime/sync_channel.hpp"

namespace kiln {
class ChildStageStamps;
}

namespace kiln::runtime {

struct PreparedExec {
  std::string path;
  std::vector<std::string> args;
  std::vector<std::string> env;
};

// Opens a pty from the container's /dev/ptmx, makes its slave our controlling terminal and
// stdio, and hands the master to the runtime over the channel.
void setup_terminal(const Process& process, const SyncChannel& channel);

PreparedExec prepare_process(const Process& process, const SeccompProgram* seccomp, const SyncChannel& channel,
                             bool setgroups_allowed, int preserve_fds, ChildStageStamps* stamps = nullptr);

[[noreturn]] void exec_prepared(const PreparedExec& exec);

// Loads the filter; with SCMP_ACT_NOTIFY its listener fd goes to the runtime over the channel.
void install_seccomp(const SeccompProgram* program, const SyncChannel& channel);

}  // namespace kiln::runtime
