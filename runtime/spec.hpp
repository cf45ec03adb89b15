// The OCI runtime spec (config.json) as typed data. parse_spec() validates everything it can
// before any kernel work starts, so bad input fails with one line naming the field and value
// ("config.json: linux.namespaces[2].type: unknown namespace type \"foo\"") and nothing to undo.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cgroups/resources.hpp"
#include "runtime/hooks.hpp"
#include "runtime/memory_policy.hpp"
#include "runtime/process_scheduling.hpp"
#include "runtime/seccomp_profile.hpp"

namespace kiln::runtime {

struct Mount {
  std::string destination;
  std::string type;
  std::string source;
  std::vector<std::string> options;
};

struct IdMapping {
  uint32_t container_id = 0;
  uint32_t host_id = 0;
  uint32_t size = 0;
};

struct Namespace {
  std::string type;  // pid, network, mount, ipc, uts, user, cgroup, time
  int clone_flag = 0;
  std::string path;  // join this one (setns) instead of creating a new one
};

struct Rlimit {
  std::string name;
  int resource = 0;
  uint64_t soft = 0;
  uint64_t hard = 0;
};

// Each set is optional: absent means "empty" for the kernel, as the spec says.
struct Capabilities {
  std::vector<int> bounding, effective, permitted, inheritable, ambient;
};

struct User {
  uid_t uid = 0;
  gid_t gid = 0;
  std::optional<mode_t> umask;
  std::vector<gid_t> additional_gids;
};

struct Process {
  bool terminal = false;
  unsigned console_height = 0, console_width = 0;
  User user;
  std::vector<std::string> args;
  std::vector<std::string> env;  // values may hold secrets: never log them
  std::string cwd = "/";
  Capabilities capabilities;
  std::vector<Rlimit> rlimits;
  std::optional<int> oom_score_adj;
  bool no_new_privileges = false;
  std::string apparmor_profile;
  std::string selinux_label;
  std::optional<Scheduler> scheduler;
  std::optional<IoPriority> io_priority;
};

struct Device {
  std::string path;
  char type = 'c';  // c, u, b, p
  int64_t major = 0, minor = 0;
  std::optional<mode_t> file_mode;
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
};

struct Linux {
  std::vector<Namespace> namespaces;
  std::vector<IdMapping> uid_mappings, gid_mappings;
  std::vector<Device> devices;
  std::string cgroups_path;
  cgroups::Resources resources;
  std::map<std::string, std::string> sysctl;
  std::vector<std::string> masked_paths, readonly_paths;
  std::string rootfs_propagation;
  std::optional<SeccompConfig> seccomp;
  std::optional<unsigned long> personality;
  std::optional<MemoryPolicy> memory_policy;
  std::map<std::string, std::pair<int64_t, uint32_t>> time_offsets;  // clock -> (secs, nanosecs)
  std::string mount_label;

  bool has_namespace(const std::string& type) const;
  const Namespace* find_namespace(const std::string& type) const;
};

struct Spec {
  std::string oci_version;
  std::string bundle;     // absolute
  std::string root_path;  // absolute (relative paths are taken from the bundle)
  bool root_readonly = false;
  std::string hostname, domainname;
  Process process;
  bool has_process = false;
  std::vector<Mount> mounts;
  Linux linux;
  Hooks hooks;
  std::map<std::string, std::string> annotations;
};

// Parses a whole config.json. `bundle` must be absolute.
Spec parse_spec(const nlohmann::json& config, const std::string& bundle);
// Reads and parses BUNDLE/config.json; errors name the file.
Spec load_spec(const std::string& bundle);
// Parses a process object (config.json's "process", or `exec --process FILE`); `where` prefixes errors.
Process parse_process(const nlohmann::json& process, const std::string& where);

// Name <-> number helpers shared with `exec --cap` and the default spec.
int capability_from_name(const std::string& name);  // throws "capability X: unknown"
int rlimit_from_name(const std::string& name);      // throws "rlimit X: unknown"
int namespace_clone_flag(const std::string& type);  // throws "namespace type X: unknown"
std::vector<std::string> namespace_type_names();    // the types linux.namespaces may name

}  // namespace kiln::runtime
