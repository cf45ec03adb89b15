// kiln inspect IMAGE: JSON with the id, names, config and the layers with their sizes.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/command_registry.hpp"
#include "image/image_store.hpp"

namespace {

struct State {
  std::string image;
};

kiln::cli::RegisterCommand reg("inspect", "Show an image's config, layers and sizes as JSON", [](CLI::App& sub) -> kiln::cli::Action {
  auto s = std::make_shared<State>();
  sub.add_option("IMAGE", s->image, "name or id")->required();
  return [s] {
    kiln::image::Store store(kiln::cli::globals().root);
    auto img = store.resolve(s->image);
    const auto& r = img.record;
    nlohmann::json cfg = nlohmann::json::parse(img.config_json);
    nlohmann::json layers = nlohmann::json::array();
    for (const auto& l : r.layers)
      layers.push_back({{"Digest", l.digest.str()}, {"DiffID", l.diff_id.str()}, {"ChainID", l.chain_id.str()},
                        {"MediaType", l.media_type}, {"Size", l.size}, {"UncompressedSize", l.diff_size}});
    nlohmann::json out = {{"Id", r.id.str()},
                          {"RepoTags", r.names},
                          {"ManifestDigest", r.manifest.str()},
                          {"Created", r.created},
                          {"Loaded", r.loaded},
                          {"Architecture", cfg.value("architecture", "")},
                          {"Os", cfg.value("os", "")},
                          {"Config", cfg.value("config", nlohmann::json::object())},
                          {"Layers", layers},
                          {"Size", r.size()},
                          {"UsedBy", store.pins(r.id)}};
    std::printf("%s\n", nlohmann::json::array({out}).dump(2).c_str());
    return 0;
  };
});

}  // namespace
