// `kiln unpack IMAGE DIR`: an OCI bundle like `umoci unpack`: DIR/rootfs (the stored layer
// dirs flattened by a copy, image/layer_flatten_copy.hpp: what a container's overlay shows) and DIR/config.json (the
// runtime's defaults, with process args/env/cwd/user from the image as `kiln run` makes them, and the image's
// annotations). On failure nothing it made is left.
#pragma once
#include <string>

namespace kiln::engine {

void unpack_bundle(const std::string& store_root, const std::string& image, const std::string& dir);

}  // namespace kiln::engine
