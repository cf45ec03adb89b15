// Pitfalls the built layers show, checked after a build on the final image's layers (those
// the build made; a base image's files are `kiln scan`'s business):
//   secret-copied         a COPY/ADD layer holds a file kiln scan flags
//   secret-in-layer       a RUN layer holds one
//   secret-deleted-later  a layer holds one and a later step deletes it: the bytes stay in
//                         the earlier layer, only the merged view hides them
//   deleted-later         a step adds files a later step deletes (the image carries both)
//   package-cache         apt lists/archives, pip, apk or npm caches left in a layer
// Layers are stored in overlay form: a whiteout is a 0/0 character device, an opaque
// directory has trusted.overlay.opaque=y. Findings name the steps and paths, never contents.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/dockerfile_lint.hpp"

namespace kiln::engine {

struct BuiltLayer {
  std::string dir;      // the layer's diff directory
  std::string where;    // "Dockerfile:5: RUN" of the step that made it; "" for a base layer
  std::string keyword;  // RUN, COPY, ADD
  int line = 0;
};

std::vector<BuildFinding> check_layers(const std::vector<BuiltLayer>& layers);

}  // namespace kiln::engine
