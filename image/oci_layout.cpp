// OCI image layout (image-spec "image-layout"): oci-layout, index.json, blobs/<alg>/<hex>.
#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "image/image_source.hpp"
#include "image/media_types.hpp"

namespace kiln::image {
namespace {

constexpr const char* kRefName = "org.opencontainers.image.ref.name";
constexpr const char* kContainerdName = "io.containerd.image.name";
constexpr int kMaxIndexDepth = 4;

class OciLayout : public ImageSource {
 public:
  explicit OciLayout(UniqueFd dir) : ImageSource(std::move(dir)) {}
  const char* format() const override { return "oci"; }

  std::vector<SourceImage> images(const Platform& platform) override {
    std::string layout = read_small("oci-layout", "OCI layout file");
    auto lj = nlohmann::json::parse(layout, nullptr, false);
    if (lj.is_discarded() || !lj.is_object() || !lj.contains("imageLayoutVersion"))
      throw Error("malformed oci-layout: no imageLayoutVersion");
    Index index = with_context("index.json", [&] { return parse_index(read_small("index.json", "index")); });
    std::vector<SourceImage> out;
    walk(index, platform, {}, 0, out);
    if (out.empty()) throw Error("index.json: no image for platform " + platform.str());
    return out;
  }

 private:
  std::string read_blob(const Descriptor& d, const std::string& what) {
    std::string path = "blobs/sha256/" + d.digest.hex;
    std::string data;
    try {
      data = read_small(path, what);
    } catch (const Error& e) {
      if (e.code() == ENOENT) throw Error(what + " blob " + d.digest.str() + " is missing");
      throw;
    }
    check_digest(d.digest, sha256_of(data), what + " blob");
    if (static_cast<int64_t>(data.size()) != d.size)
      throw Error(what + " blob " + d.digest.str() + " is " + std::to_string(data.size()) + " bytes, descriptor says " +
                  std::to_string(d.size));
    return data;
  }

  static std::vector<std::string> names_of(const Descriptor& d) {
    if (auto it = d.annotations.find(kContainerdName); it != d.annotations.end()) return {it->second};
    if (auto it = d.annotations.find(kRefName); it != d.annotations.end()) {
      // A bare tag ("latest") names no repository: the user gives one with --name.
      const std::string& r = it->second;
      if (r.find(':') != std::string::npos || r.find('/') != std::string::npos) return {r};
    }
    return {};
  }

  void walk(const Index& index, const Platform& platform, const std::vector<std::string>& names, int depth,
            std::vector<SourceImage>& out) {
    if (depth > kMaxIndexDepth) throw Error("index nesting deeper than " + std::to_string(kMaxIndexDepth));
    auto matches = match_platform(index, platform);
    // An index whose entries carry platforms is one image for several machines: take the
    // first match. Entries without platforms are separate images (several tags in a layout).
    bool multi_platform = false;
    for (const auto& d : index.manifests) multi_platform |= d.platform.has_value();
    if (multi_platform && matches.size() > 1) matches.resize(1);
    for (const Descriptor* d : matches) {
      auto n = names_of(*d);
      if (n.empty()) n = names;
      if (media::is_index(d->media_type)) {
        Index child = with_context("index " + d->digest.str(), [&] { return parse_index(read_blob(*d, "index")); });
        walk(child, platform, n, depth + 1, out);
      } else if (media::is_manifest(d->media_type)) {
        out.push_back(load_manifest(*d, n));
      } else {
        throw Error("index entry " + d->digest.str() + " has unsupported mediaType " + d->media_type);
      }
    }
  }

  SourceImage load_manifest(const Descriptor& d, std::vector<std::string> names) {
    SourceImage img;
    img.names = std::move(names);
    img.manifest_json = read_blob(d, "manifest");
    img.manifest = with_context("manifest " + d.digest.str(), [&] { return parse_manifest(img.manifest_json); });
    const Descriptor& c = img.manifest->config;
    img.config_digest = c.digest;
    img.config_media_type = c.media_type;
    img.config_json = read_blob(c, "config");
    for (const auto& l : img.manifest->layers) {
      SourceLayer sl;
      sl.path = "blobs/sha256/" + l.digest.hex;
      sl.digest = l.digest;
      sl.size = l.size;
      sl.media_type = l.media_type;
      img.layers.push_back(std::move(sl));
    }
    return img;
  }
};

}  // namespace

std::unique_ptr<ImageSource> make_oci_layout_source(UniqueFd dir) {
  return std::make_unique<OciLayout>(std::move(dir));
}

}  // namespace kiln::image
