// kiln-runtime state: the OCI state JSON on stdout (pretty, like runc).
#include <cstdio>

#include "cli/command_registry.hpp"
#include "runtime/lifecycle.hpp"

namespace {
kiln::cli::RegisterCommand reg("state", "print a container's state", [](kiln::cli::Command& sub) -> kiln::cli::Action {
  auto id = std::make_shared<std::string>();
  sub.add_option("id", *id, "container id").required();
  return [id] {
    auto j = kiln::runtime::container_state_json(kiln::cli::globals().root, *id);
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  };
});
}  // namespace
