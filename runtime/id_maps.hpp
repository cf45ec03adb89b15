// Writing a new user namespace's uid_map and gid_map from outside. Root writes any map itself.
// An unprivileged caller may write only a map of its own uid and gid (and, for the gid map, only
// after denying setgroups, as the kernel demands); anything larger goes through the setuid
// helpers newuidmap/newgidmap (Debian's uidmap), which check /etc/subuid and /etc/subgid.
#pragma once
#include <sys/types.h>

#include "runtime/spec.hpp"

namespace kiln::runtime {

enum class IdMapWriter {
  direct,          // root: writes the maps itself
  own_ids,         // unprivileged, maps only its own ids: writes them, setgroups denied
  setuid_helpers,  // unprivileged, more than its own ids: newuidmap / newgidmap
};

// Picks the writer before the clone (the init must know whether setgroups will be allowed).
// Throws, naming the fix, when the maps need the helpers and they are not installed.
IdMapWriter choose_id_map_writer(const std::vector<IdMapping>& uids, const std::vector<IdMapping>& gids);
inline IdMapWriter choose_id_map_writer(const Spec& spec) {
  return choose_id_map_writer(spec.linux.uid_mappings, spec.linux.gid_mappings);
}

// Writes /proc/PID/uid_map and gid_map (PID: a process in its new user namespace).
void write_id_maps(pid_t pid, const std::vector<IdMapping>& uids, const std::vector<IdMapping>& gids, IdMapWriter how);
inline void write_id_maps(pid_t pid, const Spec& spec, IdMapWriter how) {
  write_id_maps(pid, spec.linux.uid_mappings, spec.linux.gid_mappings, how);
}

}  // namespace kiln::runtime
