// The OCI lifecycle as library calls (the CLI files are thin wrappers):
// create -> start -> (kill) -> delete, plus run, state, list, pause/resume, ps.
#pragma once
#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cgroups/resources.hpp"
#include "runtime/state.hpp"

namespace kiln::runtime {

// A mount made detached on the host (fsmount()/open_tree() fd, attached nowhere) that the
// container's init attaches at `destination` inside its own mount namespace: it is never
// visible in the host's mount tree (kiln's secret tmpfs).
struct DetachedMount {
  int fd = -1;
  std::string destination;
};

struct CreateOptions {
  std::string root;  // state root (--root)
  std::string id;
  std::string bundle;
  std::string pid_file;
  std::string console_socket;
  bool no_pivot = false;
  bool no_new_keyring = false;
  int preserve_fds = 0;
  bool detach = false;  // run -d (set by run_container)
  // A config.json held in memory (kiln run: it may carry secrets, so it never touches the
  // disk). When set, `bundle` is only the base for relative paths and the state's bundle.
  std::optional<nlohmann::json> config;
  std::vector<DetachedMount> detached_mounts;  // fds stay owned by the caller
};

// Sets everything up and leaves the init waiting for start. Nothing is left behind on failure.
void create_container(const CreateOptions& options);
void start_container(const std::string& root, const std::string& id);
// create + start; in the foreground waits for the process and returns its exit status (128+N
// for signal N), forwarding SIGTERM/SIGINT/SIGHUP..., then deletes the container.
int run_container(const CreateOptions& options, bool detach);

// Throws "container ID not running" for a stopped container (clients match that text).
void kill_container(const std::string& root, const std::string& id, int sig, bool all);
// Without force a container that is not stopped (created, running, paused) is an error and is
// left as it was; force kills it first. A missing container with force is not an error (runc).
void delete_container(const std::string& root, const std::string& id, bool force);
nlohmann::json container_state_json(const std::string& root, const std::string& id);
void pause_container(const std::string& root, const std::string& id);
void resume_container(const std::string& root, const std::string& id);
// Changes a created, running or paused container's cgroup limits (only the values set).
void update_container(const std::string& root, const std::string& id, const cgroups::Resources& resources);
std::vector<pid_t> container_pids(const std::string& root, const std::string& id);

// poststart/poststop: a failing hook is logged as a warning and the step goes on (the spec).
void run_poststart_hooks(const ContainerState& state);
void run_poststop_hooks(const ContainerState& state);

// Ids with a cgroup under the default parent (kiln/<id>) in any hierarchy below cgroup_root:
// for `kiln system check`, which looks for cgroups no state names.
std::vector<std::string> default_parent_cgroup_ids(const std::string& cgroup_root = "/sys/fs/cgroup");
// Kills what is left in them and removes the default-path cgroups (kiln/<id>) of a container
// that has no state any more.
void remove_stray_cgroups(const std::string& id);

struct ListedContainer {
  ContainerState state;
  Status status;
};
std::vector<ListedContainer> list_containers(const std::string& root);

}  // namespace kiln::runtime
