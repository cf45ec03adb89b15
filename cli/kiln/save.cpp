// kiln save -o FILE [--format docker-archive|oci-archive] IMAGE: an image of the store as an
// archive that podman load / docker load (or skopeo) read.
#include <memory>

#include "cli/command_registry.hpp"
#include "common/error.hpp"
#include "image/archive_writer.hpp"
#include "image/image_store.hpp"
#include "image/reference.hpp"

namespace {

struct SaveArgs {
  std::string output, format = "docker-archive", image;
};

kiln::cli::RegisterCommand reg("save", "Write an image to a docker-archive or oci-archive tar",
                               [](kiln::cli::Command& sub) -> kiln::cli::Action {
                                 auto a = std::make_shared<SaveArgs>();
                                 sub.add_option("-o,--output", a->output, "the archive to write").required();
                                 sub.add_option("--format", a->format, "docker-archive (default) or oci-archive");
                                 sub.add_option("IMAGE", a->image, "image name or id").required();
                                 return [a] {
                                   auto format = kiln::image::parse_archive_format(a->format);
                                   kiln::image::Store store(kiln::cli::globals().root);
                                   auto lock = store.lock_shared();
                                   kiln::image::Image img = store.resolve(a->image);
                                   // The name the user gave, when it names the image; else its first.
                                   std::string name;
                                   try {
                                     std::string n = kiln::image::normalize_name(a->image);
                                     for (const auto& have : img.record.names)
                                       if (have == n) name = n;
                                   } catch (const kiln::Error&) {
                                   }
                                   if (name.empty() && !img.record.names.empty()) name = img.record.names.front();
                                   kiln::image::save_image(store, img, name, a->output, format);
                                   return 0;
                                 };
                               });

}  // namespace
