// What one load or pull published, and taking it back out when it fails: a full disk or a
// bad blob half-way through must leave the store as it was, not with the layers stored so far.
#pragma once
#include <spdlog/spdlog.h>

#include <exception>
#include <vector>

#include "image/digest.hpp"
#include "image/image_store.hpp"

namespace kiln::image {

struct LoadAdded {
  std::vector<Digest> layers, blobs;
};

// Runs load_locked (which holds the store lock shared while it works); when it fails, removes
// what it added that no image names, under the exclusive lock (no other load is then half-way
// through using a layer we added), and rethrows.
template <typename F>
auto with_load_undo(const Store& store, F&& load_locked) {
  LoadAdded added;
  try {
    return load_locked(added);
  } catch (...) {
    if (!added.layers.empty() || !added.blobs.empty()) {
      try {
        auto lock = store.lock_exclusive();
        store.discard_unreferenced(added.layers, added.blobs);
      } catch (const std::exception& e) {
        spdlog::warn("undo of a failed load: {}", e.what());
      }
    }
    throw;
  }
}

// What loads and pulls killed part-way left: their work dirs (staging layers), and the temp
// files of the blob and image record writes they were in the middle of. Live ones' are kept
// (each names its pid). Called with the store lock held shared.
void clean_stale_leftovers(const Store& store);

}  // namespace kiln::image
