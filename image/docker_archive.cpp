// `docker save` format: manifest.json = [{"Config": "...json", "RepoTags": [...],
// "Layers": ["<x>/layer.tar" | "<hex>.tar" | "blobs/sha256/<hex>"]}], files named relative
// to the archive root. The config has no descriptor here, so its digest is computed (and
// checked against its file name when that is a digest); layers are checked against the
// config's diff_ids by the loader.
#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "image/image_source.hpp"
#include "image/media_types.hpp"

namespace kiln::image {
namespace {

// "<64 hex>.json", "<64 hex>.tar", "blobs/sha256/<64 hex>": the digest the name promises.
std::optional<Digest> digest_in_name(const std::string& path) {
  std::string base = path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
  if (path.starts_with("blobs/sha256/") && is_sha256_hex(base)) return Digest{base};
  return std::nullopt;
}

class DockerArchive : public ImageSource {
 public:
  explicit DockerArchive(UniqueFd dir) : ImageSource(std::move(dir)) {}
  const char* format() const override { return "docker-archive"; }

  std::vector<SourceImage> images(const Platform&) override {
    auto j = nlohmann::json::parse(read_small("manifest.json", "docker manifest"), nullptr, false);
    if (j.is_discarded()) throw Error("malformed manifest.json: not valid JSON");
    if (!j.is_array() || j.empty()) throw Error("malformed manifest.json: not a non-empty array");
    std::vector<SourceImage> out;
    for (const auto& e : j) {
      if (!e.is_object()) throw Error("malformed manifest.json: entry is not an object");
      auto config = e.find("Config");
      auto layers = e.find("Layers");
      if (config == e.end() || !config->is_string()) throw Error("malformed manifest.json: missing \"Config\"");
      if (layers == e.end() || !layers->is_array()) throw Error("malformed manifest.json: missing \"Layers\"");
      SourceImage img;
      std::string cpath = config->get<std::string>();
      img.config_json = read_small(cpath, "config");
      img.config_digest = sha256_of(img.config_json);
      std::string base = cpath.substr(cpath.rfind('/') == std::string::npos ? 0 : cpath.rfind('/') + 1);
      if (auto d = digest_in_name(cpath)) check_digest(*d, img.config_digest, "config blob");
      else if (base.size() == 69 && base.ends_with(".json") && is_sha256_hex(base.substr(0, 64)))
        check_digest(Digest{base.substr(0, 64)}, img.config_digest, "config blob");
      img.config_media_type = media::docker_config;
      for (const auto& l : *layers) {
        if (!l.is_string()) throw Error("malformed manifest.json: layer is not a string");
        SourceLayer sl;
        sl.path = l.get<std::string>();
        sl.digest = digest_in_name(sl.path);
        img.layers.push_back(std::move(sl));
      }
      if (auto tags = e.find("RepoTags"); tags != e.end() && tags->is_array())
        for (const auto& t : *tags)
          if (t.is_string()) img.names.push_back(t.get<std::string>());
      out.push_back(std::move(img));
    }
    return out;
  }
};

}  // namespace

std::unique_ptr<ImageSource> make_docker_archive_source(UniqueFd dir) {
  return std::make_unique<DockerArchive>(std::move(dir));
}

}  // namespace kiln::image
