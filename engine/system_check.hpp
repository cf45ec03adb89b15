// `kiln system check [--repair]`: whatever a kill -9 of kiln, of its monitor or of the runtime
// at any step, or a full disk, left inconsistent between the records (run root), the runtime's
// state, the mounts, the cgroups and the image store; with repair, each is fixed the way the
// command that died would have finished it.
#pragma once
#include <string>
#include <vector>

#include "common/check_findings.hpp"

namespace kiln::engine {

using kiln::Finding;

std::vector<Finding> system_check(const std::string& store_root, const std::string& run_root, bool repair);

}  // namespace kiln::engine
