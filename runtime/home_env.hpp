// HOME for a process whose environment has none, as runc and docker set it: the home directory
// the container's own /etc/passwd gives the process's uid, or "/" when it names none.
#pragma once
#include <sys/types.h>

#include <string>
#include <vector>

namespace kiln::runtime {

// Called inside the container (its root is "/"), before the process's identity is taken on.
void add_home_if_unset(std::vector<std::string>& env, uid_t uid);

}  // namespace kiln::runtime
