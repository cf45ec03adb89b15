// One cgroup manager interface; implementations for cgroup v2 (unified), v1 (legacy) and the
// hybrid layout (v1 controllers + the unified tree for what it holds). detect_layout() +
// make_manager() pick one. The runtime only ever talks to this interface.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cgroups/resources.hpp"
#include "cgroups/stats.hpp"
#include "common/unique_fd.hpp"

namespace kiln::cgroups {

enum class Layout { v1, v2, hybrid };

struct ManagerOptions {
  std::string mount_root = "/sys/fs/cgroup";  // tests point this at a fake cgroupfs tree
  std::optional<Layout> layout;               // detected from mount_root when unset
  // false: no device program (v2). For a delegated subtree: an unprivileged caller may not load
  // one, and a container in a user namespace gets no device nodes of its own anyway (the
  // runtime binds the host's), as runc and crun do rootless.
  bool device_rules = true;
};

Layout detect_layout(const std::string& mount_root = "/sys/fs/cgroup");

class Manager {
 public:
  virtual ~Manager() = default;

  // Creates the container's cgroup in every hierarchy (idempotent).
  virtual void create() = 0;
  // Writes linux.resources; errors name the setting and the file.
  // Writes linux.resources for a new container: every given value, and the devices list
  // always (deny all, then resources.devices in order, then default_device_rules()).
  virtual void apply(const Resources& resources) = 0;
  // `kiln-runtime update`: writes only the values that are set; devices only when
  // resources.has_devices.
  virtual void update(const Resources& resources) = 0;
  virtual Layout layout() const = 0;
  // Moves pid into the cgroup (all hierarchies).
  virtual void add_process(pid_t pid) = 0;
  // On v2: an O_DIRECTORY fd of the cgroup for clone3(CLONE_INTO_CGROUP); -1 when not usable.
  virtual int clone_into_fd() = 0;
  // Files a new single-threaded process writes "0" to, to move itself into the cgroups that
  // clone3 did not place it in (v1: each hierarchy's `tasks`). A thread moving itself skips the
  // global lock a move by pid takes, and with it an RCU grace period (milliseconds: the largest
  // cost of a start). Opened by the runtime: the kernel checks the opener's credentials, so the
  // process may already be in a new user namespace. Empty when clone_into_fd() covers it all.
  struct JoinFile {
    UniqueFd fd;
    std::string path;
  };
  virtual std::vector<JoinFile> open_join_files() { return {}; }
  virtual std::vector<pid_t> pids() = 0;
  virtual Stats stats() = 0;
  virtual void freeze() = 0;
  virtual void thaw() = 0;
  virtual bool frozen() = 0;
  // Sends sig to every process in the cgroup (cgroup.kill on v2 for SIGKILL where present).
  virtual void kill_all(int sig) = 0;
  // Kills what is left, then removes the cgroup in every hierarchy. No error when already gone.
  virtual void destroy() = 0;
  virtual uint64_t oom_kill_count() = 0;
  // controller (or "unified") -> absolute host path of this container's cgroup; used for the
  // in-container cgroup mount and for the state file.
  virtual std::map<std::string, std::string> paths() = 0;
};

// cgroups_path is linux.cgroupsPath: absolute ("/a/b": below each hierarchy's root), relative
// ("a/b": below the runtime's own cgroup, as runc does), or empty (default "/kiln/<id>").
// A path that climbs out of the hierarchy ("../..") is refused.
// In the new (single-threaded) process: write "0" to each file, then close it (raw close: the
// process execs or exits without running destructors). Throws naming the file.
void join_self(std::vector<Manager::JoinFile>& files);

std::unique_ptr<Manager> make_manager(const std::string& cgroups_path, const std::string& container_id,
                                      const ManagerOptions& options = {});

}  // namespace kiln::cgroups
