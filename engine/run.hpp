// `kiln run`: one container from a local image, from request to exit status. Validates
// everything first (flags, secrets, image), then: record, image pin, container dirs, rootfs
// overlay, the network (engine/container_network.hpp), /etc files, the spec in memory, run it
// attached or under a detached monitor. A
// failure anywhere leaves nothing behind (RunGuard).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace kiln::engine {

// The `kiln run` flags, as the user gave them (parsed and checked here, not in the CLI).
struct RunRequest {
  std::string store_root;  // image and secret store
  std::string image;
  std::vector<std::string> command;  // replaces the image's Cmd
  bool rm = false, detach = false, interactive = false, tty = false, read_only = false;
  std::string name, user, workdir, hostname, memory, cpus;
  std::string network = "kiln";  // none | host | container:OTHER | a network (default: the default bridge)
  std::string ip;                // --ip on a bridge network
  std::vector<std::string> network_aliases, publish;
  std::vector<std::string> env, env_files, cap_add, cap_drop, volumes, security_opts, secrets, ulimits;
  std::vector<std::string> storage_opts;  // size=N: the writable layer's limit
  int64_t pids_limit = 0;
  int timeout = 0;
};

struct RunOutcome {
  int status = 0;  // the container's exit status (124 after --timeout); 0 when detached
  std::string id;  // the container's id
};

// Attached: returns once the container has exited. Detached: once it runs. Throws kiln::Error;
// one of ErrorKind::exec means the command could not be executed (126, or 127 when not found).
RunOutcome run(const RunRequest& request);

}  // namespace kiln::engine
