// kiln tag SOURCE TARGET: another name for an image in the store (docker tag).
#include <cstdio>
#include <memory>

#include "cli/command_registry.hpp"
#include "common/error.hpp"
#include "image/image_store.hpp"
#include "image/reference.hpp"

namespace {

struct TagArgs {
  std::string source, target;
};

kiln::cli::RegisterCommand reg("tag", "Give an image another name", [](kiln::cli::Command& sub) -> kiln::cli::Action {
  auto a = std::make_shared<TagArgs>();
  sub.add_option("SOURCE", a->source, "image name or id").required();
  sub.add_option("TARGET", a->target, "new name [HOST[:PORT]/]NAME[:TAG]").required();
  return [a] {
    kiln::image::Store store(kiln::cli::globals().root);
    kiln::image::Reference target = kiln::image::parse_reference(a->target);  // refuses a bad name first
    if (!target.digest.empty()) throw kiln::Error("tag " + a->target + ": a name cannot carry a digest");
    auto lock = store.lock_shared();
    kiln::image::ImageRecord rec = store.resolve(a->source).record;
    rec.names = {a->target};  // commit_image keeps the image's other names
    store.commit_image(rec);
    return 0;
  };
});

}  // namespace
