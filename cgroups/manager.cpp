#include "cgroups/manager.hpp"

#include "common/error.hpp"

namespace kiln::cgroups {

// Temporary: the layout detector and managers land in the next commits.
Layout detect_layout(const std::string&) { throw Error("cgroups: layout detection not implemented yet"); }

std::unique_ptr<Manager> make_manager(const std::string&, const std::string&, const ManagerOptions&) {
  throw Error("cgroups: managers not implemented yet");
}

}  // namespace kiln::cgroups
