// kiln unpack IMAGE DIR: an OCI bundle for an image (engine/unpack.hpp).
#include <memory>

#include "cli/command_registry.hpp"
#include "engine/unpack.hpp"

namespace {

struct State {
  std::string image;
  std::string dir;
};

kiln::cli::RegisterCommand reg(
    "unpack", "Write an OCI bundle (config.json + flattened rootfs) for an image",
    [](kiln::cli::Command& sub) -> kiln::cli::Action {
      auto s = std::make_shared<State>();
      sub.add_option("IMAGE", s->image, "name or id").required();
      sub.add_option("DIR", s->dir, "bundle directory (must not exist or be empty)").required();
      return [s] {
        kiln::engine::unpack_bundle(kiln::cli::globals().root, s->image, s->dir);
        return 0;
      };
    });

}  // namespace
