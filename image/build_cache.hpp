// The build cache's index: for each step key (engine/build_*.cpp computes it from the parent
// chain, the expanded instruction and the copied files' content), the layer the step made.
// The layers and their blobs are ordinary store entries; an entry here keeps them from garbage
// collection (rmi, system check) like an image record does. Metadata-only steps have entries
// without a layer (they only say "this step was seen").
//
//   ROOT/build-cache/<key-hex>.json   {"layer": "<chain hex>", "blob": "<blob hex>"} or {}
//   ROOT/build-cache/checks/          the pitfall findings of built layer lists (engine/build.cpp)
#pragma once
#include <optional>
#include <set>
#include <string>

#include "image/digest.hpp"

namespace kiln::image {

struct BuildCacheEntry {
  std::optional<Digest> chain_id;  // the layer the step made, none for metadata-only steps
  std::optional<Digest> blob;
};

std::optional<BuildCacheEntry> read_build_cache(const std::string& store_root, const Digest& key);
void write_build_cache(const std::string& store_root, const Digest& key, const BuildCacheEntry& entry);
// Removes the entries whose layer is not in keep_layers (chain hex), and metadata-only ones;
// returns how many went. Caller holds the store's lock exclusive.
size_t remove_build_cache_entries(const std::string& store_root, const std::set<std::string>& keep_layers);
// Adds the layers (chain hex) and blobs (hex) cache entries name; a corrupt entry names none.
void add_build_cache_refs(const std::string& store_root, std::set<std::string>& layers, std::set<std::string>& blobs);

}  // namespace kiln::image
