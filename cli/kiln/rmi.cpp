// kiln rmi IMAGE...: untag, or delete an image and the layers nothing else uses.
#include <cstdio>
#include <memory>

#include "cli/command_registry.hpp"
#include "common/error.hpp"
#include "image/image_store.hpp"

namespace {

struct State {
  std::vector<std::string> images;
  bool force = false;
};

kiln::cli::RegisterCommand reg("rmi", "Remove images (and layers no other image uses)",
                               [](kiln::cli::Command& sub) -> kiln::cli::Action {
                                 auto s = std::make_shared<State>();
                                 sub.add_option("IMAGE", s->images, "names or ids").required();
                                 sub.add_flag("-f,--force", s->force,
                                              "remove even when containers still pin the image");
                                 return [s] {
                                   kiln::image::Store store(kiln::cli::globals().root);
                                   for (const auto& ref : s->images) {
                                     auto r = store.remove(ref, s->force);
                                     for (const auto& n : r.untagged) std::printf("Untagged: %s\n", n.c_str());
                                     if (r.deleted) std::printf("Deleted: %s\n", r.deleted->str().c_str());
                                   }
                                   return 0;
                                 };
                               });

}  // namespace
