// `kiln push`: an image from the store to a registry. Each blob (layers, then the config) is
// first asked for with HEAD and skipped when the registry has it; a blob the registry may hold
// in another repository (one of the image's names on the same registry) is linked with a
// cross-repository mount; the rest are uploaded, in one PUT when small and in PATCHed chunks
// when larger than the chunk size. The manifest goes last, so the tag never names an image
// whose blobs are not all there. Blobs are read from the store (verified when they entered it;
// the registry checks each against the digest the upload is closed with).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "image/digest.hpp"
#include "image/image_store.hpp"
#include "image/registries_conf.hpp"

namespace kiln::image {

struct PushOptions {
  bool tls_verify = true;
  std::string registries_conf = default_registries_conf();  // [[registry]] location/insecure/blocked
  uint64_t chunk_size = 16 << 20;                           // blobs larger than this go in PATCHes of this many bytes
  std::function<void(const std::string&)> progress;         // one plain line per blob
};

struct PushedImage {
  std::string destination;  // "127.0.0.1:5000/team/app:1"
  Digest manifest_digest;
  size_t blobs_present = 0;  // HEAD said the registry had them
  size_t blobs_mounted = 0;  // linked from another repository of the registry
  size_t blobs_sent = 0;     // uploaded
  size_t blobs_chunked = 0;  // of those, in chunks
  size_t retries = 0;        // requests answered 429/5xx and tried again
};

// image: a name or id in the store; destination: HOST[:PORT]/NAME[:TAG] (an optional
// "docker://" in front); empty: the image's own name, which must then name a registry.
PushedImage push(const Store& store, const std::string& image, const std::string& destination,
                 const PushOptions& options = {});

// Repositories on `domain` other than `repo` that the image's names point to: where a blob of
// the image is likely to be already (it was pulled from there, or pushed there before).
std::vector<std::string> mount_sources(const std::vector<std::string>& names, const std::string& domain,
                                       const std::string& repo);

}  // namespace kiln::image
