// Puts a layer tar that kiln made (a build step's) into the store the way `kiln load` puts an
// image's layers there: the tar becomes a blob, and is unpacked once, through the same hardened
// unpacker and overlay whiteout strategy, into layers/<chain id>. A layer already stored under
// that chain id is reused.
#pragma once
#include <string>
#include <vector>

#include "image/image_store.hpp"

namespace kiln::image {

// parents: the layers below, lowest first. work_dir: an empty dir under store.tmp_dir().
// The caller holds the store's shared lock.
LayerRecord commit_layer_tar(const Store& store, const std::string& tar_path, const std::vector<LayerRecord>& parents,
                             const std::string& work_dir);

}  // namespace kiln::image
