// Which cgroup hierarchies a mount root holds. The real root is recognised by filesystem magic
// (statfs); a test's fake tree (plain directories and files) by its shape: cgroup.controllers at
// the top means v2, a "unified" directory with cgroup.controllers means hybrid, otherwise v1
// with one directory per hierarchy.
#pragma once
#include <string>
#include <vector>

#include "cgroups/manager.hpp"

namespace kiln::cgroups {

struct V1Hierarchy {
  std::string mount;                     // e.g. /sys/fs/cgroup/cpu,cpuacct
  std::vector<std::string> controllers;  // e.g. {"cpu", "cpuacct"}; {"name=systemd"}
};

// The v1 hierarchies mounted below mount_root (not "unified"). A combined mount's symlinks
// ("cpu" -> "cpu,cpuacct") are not listed twice.
std::vector<V1Hierarchy> v1_hierarchies(const std::string& mount_root);

// True when path is on a real cgroup (v1 or v2) filesystem rather than a fake test tree.
bool is_cgroupfs(const std::string& path);

}  // namespace kiln::cgroups
