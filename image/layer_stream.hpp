// One layer blob from a registry, unpacked while it downloads. libcurl's write callback (the
// calling thread) hashes each chunk (RegistryClient::fetch_blob), appends it to the blob file
// the store keeps (for save, push and `kiln unpack`) and hands it through a bounded ByteQueue
// to a second thread running the one layer unpacker (layer_unpack.hpp: whiteouts, hostile
// names) into DIR/diff. Nothing is read twice and no other copy of the blob is made.
//
// Nothing here is published: the caller checks the diff_id and renames DIR into the store.
// Any failure throws with DIR's contents left for the caller's work dir to remove. When the
// unpacker fails, the rest of the blob is still received (bounded by the descriptor's size)
// and its digest checked first, so a tampered blob is reported as a digest mismatch, not as
// whatever the decompressor made of it.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/unique_fd.hpp"
#include "image/layer_unpack.hpp"
#include "image/manifest.hpp"
#include "image/registry_client.hpp"

namespace kiln::image {

struct StreamedLayer {
  UnpackResult result;    // digest: the download's (verified); diff_id: not checked here
  std::string blob_file;  // DIR.blob, the whole blob, verified
  // A hardlink in the layer names a file of a lower layer that was not in the store when the
  // download started (lowers unpack in parallel): DIR/diff was emptied, and the layer must be
  // unpacked again from blob_file once its lowers are stored.
  bool redo = false;
};

struct LayerStreamOptions {
  uint64_t max_layer_size = kDefaultMaxLayerSize;  // decompressed bytes
  size_t queue_bytes = 4 << 20;                    // held between download and unpack
  // The lower layers' diff dirs, nearest first, when all are stored; nullopt while some are not.
  std::optional<std::vector<UniqueFd>> lowers;
  std::function<void(uint64_t)> on_bytes;  // bytes received so far; may throw to cancel
};

StreamedLayer stream_layer(RegistryClient& client, const std::string& repo, const Descriptor& layer,
                           const std::string& dir, LayerStreamOptions options);

}  // namespace kiln::image
