// One RUN step of `kiln build`: a kiln container on the build's current rootfs (an overlay the
// caller mounted, whose upper dir becomes the step's layer), with the build's network, its
// output captured line by line for the progress display, and any secrets of the step in a
// detached tmpfs (/run/secrets) or in the in-memory spec's env: never on disk.
#pragma once
#include <sys/types.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/container_network.hpp"
#include "engine/secret_buffer.hpp"

namespace kiln::engine {

struct BuildSecret {
  std::string id;
  std::string file_name;  // under /run/secrets; empty when only env
  std::string env;        // variable name; empty when only a file
  const SecretBuffer* value = nullptr;
};

struct BuildCacheMount {
  std::string host_dir;
  std::string target;
};

struct BuildRunRequest {
  std::string store_root;
  std::string container_dir;  // holds merged/ (mounted by the caller) and the /etc files
  std::vector<std::string> args;
  std::vector<std::string> env;  // KEY=VALUE
  std::string workdir = "/";
  std::string user;
  bool host_network = false;
  // A named network (kiln network create): the step's container joins it as `kiln run
  // --network NAME` does, under a run record of its own (kiln-build-<short id>) that holds the
  // undo, so a build killed mid-step is cleaned up by the next kiln command (settle_orphaned).
  // Null: none or host.
  const NetworkPlan* network = nullptr;
  std::vector<BuildSecret> secrets;
  std::vector<BuildCacheMount> cache_mounts;
  std::function<void(std::string_view line)> output;  // each output line, as it comes
};

struct BuildRunResult {
  int status = 0;
  std::vector<std::string> last_lines;  // the last few lines of output (for an error)
};

BuildRunResult run_build_step(const BuildRunRequest& request);

}  // namespace kiln::engine
