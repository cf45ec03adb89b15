// Container state under the runtime's --root: one directory per container holding state.json
// (written atomically) and, between create and start, the exec fifo. The directory is made
// with mkdir (so a second create with the same id fails) and locked with flock for commands
// that change it. No secrets here: state.json holds ids, paths and the cgroup path, never env.
#pragma once
#include <sys/types.h>

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/unique_fd.hpp"
#include "runtime/hooks.hpp"
#include "runtime/host_rootfs_mount.hpp"

namespace kiln::runtime {

enum class Status { creating, created, running, paused, stopped };
const char* status_name(Status s);

struct ContainerState {
  std::string id;
  pid_t pid = 0;
  uint64_t pid_start_time = 0;  // /proc/PID/stat field 22: tells a reused pid from ours
  std::string bundle;
  std::string rootfs;
  std::string created;  // RFC 3339 with nanoseconds
  std::string owner;
  std::map<std::string, std::string> annotations;
  std::string cgroups_path;
  bool no_cgroup = false;            // an unprivileged create that may not make cgroups: none was made
  bool cgroup_delegated_v2 = false;  // cgroups_path is in the caller's delegated cgroup v2 subtree
  // Only the phases later commands run (start: poststart, delete: poststop) are kept.
  std::vector<Hook> poststart_hooks, poststop_hooks;
  bool has_user_namespace = false;
  std::vector<std::pair<std::string, std::string>> namespace_paths;  // joined by path
  std::string seccomp_program;                                       // path of the cached filter, for exec
  bool no_new_privileges = false;
  HostRootfsMount host_rootfs;  // no mount namespace: what delete unmounts from the host
  // create writes the state twice: first what it is about to make (the cgroup path, the host
  // rootfs mount) with `creating` set and itself as the creator, before making any of it, so
  // a delete --force after a kill -9 of create undoes it all; then the finished state.
  bool creating = false;
  pid_t creator_pid = 0;
  uint64_t creator_start_time = 0;
  std::string pid_file;  // --pid-file as given: delete removes it while it still names our pid
};

class StateDir {
 public:
  StateDir(std::string root, std::string id);
  const std::string& path() const { return dir_; }
  std::string fifo_path() const { return dir_ + "/exec.fifo"; }

  // mkdir the container dir; throws "container ID already exists".
  void create_new();
  bool exists() const;
  // Takes an exclusive flock on the dir for the lifetime of the returned fd.
  UniqueFd lock() const;
  void save(const ContainerState& state) const;
  // Throws "container ID does not exist" when missing.
  ContainerState load() const;
  void remove() const;

 private:
  std::string root_;
  std::string id_;
  std::string dir_;
};

// Validates a container id (no '/', no "..", not empty, printable): it becomes a path.
void validate_container_id(const std::string& id);

// Reads /proc/PID/stat starttime; 0 if the process is gone.
uint64_t process_start_time(pid_t pid);
// Alive and the same process we started (pid not reused), and not a zombie.
bool process_alive(pid_t pid, uint64_t start_time);

// creating (create is still at work) | created | running | paused | stopped, from the process,
// the fifo and the freezer. A create that died half-way is stopped.
Status current_status(const StateDir& dir, const ContainerState& state);

nlohmann::json state_to_oci_json(const ContainerState& state, Status status);

// Every container id under root.
std::vector<std::string> list_container_ids(const std::string& root);

}  // namespace kiln::runtime
