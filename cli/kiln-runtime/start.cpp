// kiln-runtime start: release a created container into its process. Prints nothing.
#include "cli/command_registry.hpp"
#include "runtime/lifecycle.hpp"

namespace {
kiln::cli::RegisterCommand reg("start", "start a created container", [](kiln::cli::Command& sub) -> kiln::cli::Action {
  auto id = std::make_shared<std::string>();
  sub.add_option("id", *id, "container id").required();
  return [id] {
    kiln::runtime::start_container(kiln::cli::globals().root, *id);
    return 0;
  };
});
}  // namespace
