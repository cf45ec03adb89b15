// `exec`: run one more process inside a running container. The runtime joins the container's
// pid namespace itself (that only affects its children), clones one child that joins the rest
// through a pidfd of the container's init (setns with all flags at once), is placed in the
// container's cgroup, takes the process's identity, capabilities and seccomp filter, and execs.
#pragma once
#include <string>
#include <vector>

namespace kiln::runtime {

struct ExecOptions {
  std::string root;
  std::string id;
  std::string process_file;       // --process: a process.json
  std::vector<std::string> args;  // or the args, on top of the container's own process
  std::vector<std::string> env;   // --env KEY=VALUE (added / replaced)
  std::string cwd;
  std::string user;  // "UID[:GID]"
  std::vector<std::string> caps;
  std::vector<unsigned> additional_gids;
  bool tty = false;
  bool no_new_privs = false;
  std::string console_socket;
  std::string pid_file;
  bool detach = false;
  int preserve_fds = 0;
};

// Returns the process's exit status (foreground), or 0 once it runs (detach).
int exec_in_container(const ExecOptions& options);

}  // namespace kiln::runtime
