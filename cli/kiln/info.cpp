// kiln info: what this user's kiln can do on this machine (rootless or not, id mapping,
// overlay, cgroups, networks), one "name: value" line each.
#include <cstdio>

#include "cli/command_registry.hpp"
#include "engine/records.hpp"
#include "engine/user_capabilities.hpp"

namespace {

kiln::cli::RegisterCommand reg("info", "Show what kiln can do for this user here", [](kiln::cli::Command&) {
  return []() -> int {
    for (const auto& l : kiln::engine::user_capabilities(kiln::cli::globals().root, kiln::engine::default_run_root()))
      std::printf("%s: %s\n", l.name.c_str(), l.value.c_str());
    return 0;
  };
});

}  // namespace
