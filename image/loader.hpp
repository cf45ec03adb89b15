// `kiln load` and `kiln import`: bring images into the store.
//
// Every layer is read once from the source: hashed (blob digest), copied into the store,
// decompressed, hashed again (diff_id) and extracted into tmp/, in one pass. Only when both
// digests match the manifest and the config is the layer renamed into layers/<chain id>.
// A layer whose chain id is already stored is not read at all, so loading an image again
// costs a few small JSON reads. All of it happens under the store's shared lock.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "image/digest.hpp"
#include "image/image_store.hpp"
#include "image/manifest.hpp"

namespace kiln::image {

struct LoadProgress {
  size_t layer = 0;    // 1-based index of the layer being read
  size_t layers = 0;   // layers of the image
  uint64_t bytes = 0;  // input bytes read so far, all layers of this load
  bool done = false;   // last call of an image
};

struct LoadOptions {
  std::optional<std::string> name;   // replaces the names found in the archive
  std::optional<Platform> platform;  // default: host_platform()
  uint64_t max_layer_size = 0;       // 0: max_layer_size_from_env()
  size_t parallel_layers = 3;        // layers unpacked at once (as a pull's downloads)
  std::function<void(const LoadProgress&)> progress;
};

struct LoadedImage {
  Digest id;
  std::vector<std::string> names;
  size_t layers_unpacked = 0;  // layers that were not in the store yet
};

// PATH: an OCI layout dir, a docker-save dir, or a tar (optionally compressed) of either.
std::vector<LoadedImage> load(const Store& store, const std::string& path, const LoadOptions& options = {});

// A one-layer image from a root filesystem tarball (gzip/zstd/none), named `name`.
LoadedImage import_rootfs(const Store& store, const std::string& tar_path, const std::string& name,
                          const LoadOptions& options = {});

}  // namespace kiln::image
