// A new filesystem mounted nowhere (fsopen, fsconfig, fsmount): a mount fd only its holder can
// reach, gone when the last fd or file on it goes. Used for the secrets tmpfs and the sealed
// overlay the runtime re-executes from.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "common/unique_fd.hpp"

namespace kiln {

// type "tmpfs", "overlay"...; options as for fsconfig(FSCONFIG_SET_STRING); attrs MOUNT_ATTR_*.
// Throws kiln::Error naming the type and the step.
UniqueFd detached_mount(const std::string& type, const std::vector<std::pair<std::string, std::string>>& options,
                        unsigned int attrs);

}  // namespace kiln
