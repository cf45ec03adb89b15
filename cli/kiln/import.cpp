// kiln import ROOTFS.tar NAME:TAG: a one-layer image from a root filesystem tarball.
#include <cstdio>
#include <memory>

#include "cli/command_registry.hpp"
#include "image/image_store.hpp"
#include "image/loader.hpp"

namespace {

struct State {
  std::string tar;
  std::string name;
};

kiln::cli::RegisterCommand reg(
    "import", "Make a one-layer image from a root filesystem tarball",
    [](kiln::cli::Command& sub) -> kiln::cli::Action {
      auto s = std::make_shared<State>();
      sub.add_option("ROOTFS", s->tar, "root filesystem tar (gzip, zstd or plain)").required();
      sub.add_option("NAME", s->name, "NAME[:TAG] of the new image").required();
      return [s] {
        kiln::image::Store store(kiln::cli::globals().root);
        auto img = kiln::image::import_rootfs(store, s->tar, s->name);
        std::printf("%s\n", img.id.str().c_str());
        return 0;
      };
    });

}  // namespace
