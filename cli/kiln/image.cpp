// kiln image prune: frees the build cache's layers that no image uses (image/image_store.hpp).
// Layers of stored images, and so of their containers, always stay.
#include <cstdio>
#include <memory>

#include "cli/command_registry.hpp"
#include "engine/status_text.hpp"
#include "image/image_store.hpp"

namespace {

kiln::cli::RegisterCommand reg("image", "Manage images", [](kiln::cli::Command& sub) -> kiln::cli::Action {
  sub.require_subcommand(1);
  kiln::cli::Command p = sub.add_subcommand("prune", "Remove build-cache layers no image uses");
  return [p] {
    if (!p.parsed()) return 125;
    kiln::image::Store store(kiln::cli::globals().root);
    auto r = store.prune_build_cache();
    std::printf("Deleted %zu build cache entries and %zu layers\nTotal reclaimed space: %s\n", r.entries, r.layers,
                kiln::engine::human_size(r.bytes).c_str());
    return 0;
  };
});

}  // namespace
