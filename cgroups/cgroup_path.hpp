// linux.cgroupsPath -> the path of the container's cgroup inside each hierarchy.
// Resolution is lexical (cgroupfs has no symlinks); a path that climbs above its base is refused.
#pragma once
#include <map>
#include <string>

namespace kiln::cgroups {

struct CgroupPath {
  std::string path;       // normalized, no leading or trailing '/', never contains ".."
  bool relative = false;  // below the runtime's own cgroup of each hierarchy
};

// Empty -> "kiln/<id>" (absolute). Throws "linux.cgroupsPath \"P\": escapes the cgroup root".
CgroupPath resolve_cgroups_path(const std::string& cgroups_path, const std::string& container_id);

// base (a normalized path inside a hierarchy, may be empty or start with '/') + rel, normalized.
std::string join_cgroup_path(const std::string& base, const std::string& rel);

// /proc/self/cgroup as controller -> own cgroup path: v1 lines are keyed by each controller of
// the hierarchy ("cpu", "cpuacct", "name=systemd"), the v2 line ("0::/x") by "".
std::map<std::string, std::string> own_cgroups();

}  // namespace kiln::cgroups
