// Where images come from: a directory holding an OCI image layout or an unpacked
// `docker save` archive. (Tar archives of either are first extracted into the store's tmp/
// by the loader.) A source lists the images it holds with their verified configs; it does
// not read layers: the loader streams those once, straight into the layer store.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/unique_fd.hpp"
#include "image/digest.hpp"
#include "image/manifest.hpp"

namespace kiln::image {

struct SourceLayer {
  std::string path;              // inside the source dir
  std::optional<Digest> digest;  // expected blob digest, when the format names one
  int64_t size = -1;             // expected size, when known
  std::string media_type;        // empty: decided from the compression found
};

struct SourceImage {
  std::vector<std::string> names;
  Digest config_digest;
  std::string config_json;  // verified against config_digest
  std::string config_media_type;
  std::optional<Manifest> manifest;  // OCI: the verified manifest; docker: none (the loader makes one)
  std::string manifest_json;
  std::vector<SourceLayer> layers;
};

class ImageSource {
 public:
  virtual ~ImageSource() = default;
  virtual const char* format() const = 0;
  // The images to load; an index with several platforms yields the one for `platform`.
  virtual std::vector<SourceImage> images(const Platform& platform) = 0;
  // Opens a file of the source for reading, resolved inside the source dir.
  UniqueFd open(const std::string& path) const;

 protected:
  explicit ImageSource(UniqueFd dir) : dir_(std::move(dir)) {}
  // Reads a small file (JSON) of the source; throws "<what> PATH is missing" when absent.
  std::string read_small(const std::string& path, const std::string& what) const;
  UniqueFd dir_;
};

// Picks the format from the files present: oci-layout -> OCI layout; manifest.json -> docker.
std::unique_ptr<ImageSource> open_image_source(const std::string& dir);

std::unique_ptr<ImageSource> make_oci_layout_source(UniqueFd dir);
std::unique_ptr<ImageSource> make_docker_archive_source(UniqueFd dir);

}  // namespace kiln::image
