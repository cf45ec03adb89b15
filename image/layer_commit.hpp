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

// A build step's upper dir (overlayfs form, overlay unmounted) committed as the layer itself:
// its tar (write_layer_tar's bytes, so the same digests) becomes the blob, and the dir, made
// into what unpacking that tar would give (write_layer_tar_in_place), is renamed into the
// store, instead of every file being written a second time by an unpack. Not on the store's
// filesystem: the tar is unpacked as by commit_layer_tar. work_dir as above.
LayerRecord commit_layer_dir(const Store& store, const std::string& upper_dir, const std::vector<LayerRecord>& parents,
                             const std::string& work_dir, int64_t epoch);

}  // namespace kiln::image
