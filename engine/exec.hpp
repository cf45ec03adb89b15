// `kiln exec`: one more process in a running container, through the runtime's exec (it joins
// the container's namespaces and cgroups and takes its capabilities, no_new_privileges and
// seccomp filter), with the environment the container's init got (kept in memory only, never
// on disk: it may carry secrets).
#pragma once
#include <string>
#include <vector>

namespace kiln::engine {

struct ExecRequest {
  std::string container;  // name or id
  std::vector<std::string> args;
  std::vector<std::string> env;  // KEY=VALUE, on top of the container's
  std::string user, workdir;
  bool tty = false, detach = false;
};

// The process's exit status (0 when detached). Throws kiln::Error; ErrorKind::exec when the
// command could not be executed.
int exec(const ExecRequest& request);

}  // namespace kiln::engine
