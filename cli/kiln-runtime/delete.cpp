// kiln-runtime delete [--force] ID
#include "cli/command_registry.hpp"
#include "runtime/lifecycle.hpp"

namespace {
struct Opts {
  std::string id;
  bool force = false;
};
kiln::cli::RegisterCommand reg("delete", "delete a container", [](kiln::cli::Command& sub) -> kiln::cli::Action {
  auto o = std::make_shared<Opts>();
  sub.add_flag("-f,--force", o->force, "kill the container if it is running");
  sub.add_option("id", o->id, "container id").required();
  return [o] {
    kiln::runtime::delete_container(kiln::cli::globals().root, o->id, o->force);
    return 0;
  };
});
}  // namespace
