// The process's identity and privileges, applied by the container's init just before exec:
// rlimits, groups/gid/uid, capability sets (bounding, effective, permitted, inheritable,
// ambient via libcap), no_new_privs, umask, personality.
#pragma once
#include "runtime/spec.hpp"

namespace kiln::runtime {

// setrlimit for every entry; a hard limit above the current one fails without CAP_SYS_RESOURCE.
void apply_rlimits(const std::vector<Rlimit>& rlimits);
// Drops the bounding set, switches to user.uid/gid/groups, then sets the capability sets.
// setgroups is skipped when a user namespace denies it.
void apply_user_and_capabilities(const Process& process, bool setgroups_allowed);
void apply_no_new_privileges(const Process& process);

}  // namespace kiln::runtime
