// `kiln run -d --replicas N [--name PREFIX] IMAGE CMD`: N identical containers from one kiln
// process. Each is what one `kiln run -d` makes (its own namespaces, cgroup, overlay upper,
// record and monitor), named PREFIX-1..N (without --name: its short id, as usual), so ps, rm,
// logs, stop treat them as ordinary containers. What they share is computed once, before any
// is made (engine/run_shared.hpp: flags and secrets checked, image resolved and its config
// read, env files parsed); then worker processes (a few per CPU; processes, not threads: the
// runtime clones a container's init with clone3, which a multi-threaded parent must not do)
// start them in parallel. A replica that fails is undone on its own and named in the result;
// the others keep running.
#pragma once
#include <string>
#include <vector>

#include "engine/run.hpp"

namespace kiln::engine {

struct ReplicaResult {
  int index = 0;      // 1..N
  std::string name;   // PREFIX-index, or "" (then the container's short id)
  std::string id;     // the container's id when it started
  int status = 0;     // 0 started; else what `kiln run` would exit with (125, 126, 127)
  std::string error;  // why it did not start
};

// Throws before anything is made when the request cannot be replicated (--rm, -i, -t, --ip, a
// fixed host port, no -d) or the shared part fails (no such image, a bad flag). Otherwise one
// result per replica, in index order.
std::vector<ReplicaResult> run_replicas(const RunRequest& request, int replicas);

}  // namespace kiln::engine
