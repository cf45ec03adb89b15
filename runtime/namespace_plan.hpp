// Which namespaces a container's init creates, joins, and when (STYLE.md: setup as data), from
// linux.namespaces. Unit-tested without a kernel; launcher.cpp and container_init.cpp apply it.
//
//   - New namespaces are created by clone3 itself, except: cgroup (unshared by the child once it
//     sits in its cgroup, so the namespace's root is the container's cgroup), time (unshared by
//     the runtime before the clone: offsets can only be written while no process lives in it),
//     and, when a user namespace is joined by path, everything but pid (unshared by the child
//     after that join, so the joined user namespace owns them).
//   - A pid namespace given by path is joined by the runtime before the clone (setns(pid) only
//     moves children); the other paths are joined by the child, the user namespace first.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/spec.hpp"

namespace kiln::runtime {

struct NamespaceJoin {
  std::string type;
  std::string path;
  int clone_flag = 0;
};

struct NamespacePlan {
  uint64_t clone_flags = 0;          // created by clone3
  int unshare_after_user_join = 0;   // created by the child after joining the user ns (0: none)
  bool new_cgroup = false;           // unshared by the child in its cgroup
  bool new_time = false;             // unshared by the runtime before the clone
  std::string pid_path;              // joined by the runtime before the clone
  std::vector<NamespaceJoin> joins;  // joined by the child, in this order (user first)
  bool joins_user = false;
};

NamespacePlan plan_namespaces(const Linux& linux);

}  // namespace kiln::runtime
