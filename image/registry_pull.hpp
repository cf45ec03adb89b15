// `kiln pull`: an image from a registry into the store. The manifest (and, for a multi-arch
// index, the platform's manifest) is fetched and checked against its digest, then the config;
// each layer the store does not already hold is unpacked while it downloads (layer_stream.hpp)
// into a staging dir under the store's tmp/, and published (its blob and its layer dir, by
// rename) only once the blob's digest and the diff_id match. The image record is written last;
// a pull that fails takes back out whatever layers it had published (load_undo.hpp), so the
// store is as it was. A layer already in the store is never fetched.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "image/loader.hpp"
#include "image/manifest.hpp"
#include "image/registries_conf.hpp"

namespace kiln::image {

// --tls-verify's value: "true" or "false", anything else refused naming it.
bool parse_tls_verify(const std::string& text);

// A layer's download, reported from the thread fetching it (every 256 KiB and when done).
struct LayerProgress {
  size_t index = 0;   // 1-based, in the manifest's order
  size_t layers = 0;  // layers of the image
  Digest digest;
  uint64_t bytes = 0;
  uint64_t total = 0;  // the descriptor's size
  bool done = false;
};

struct PullOptions {
  std::optional<Platform> platform;  // default: host_platform()
  bool tls_verify = true;
  std::string registries_conf = default_registries_conf();
  std::function<void(const std::string&)> progress;  // one plain line per step
  // When set, layers are reported here (for a progress bar each) instead of as plain lines.
  // Called from several threads at once: the callee serializes.
  std::function<void(const LayerProgress&)> layer_progress;
  size_t parallel_layers = 3;  // downloads at once
};

struct PulledImage {
  LoadedImage image;
  std::string name;        // the store's name ("127.0.0.1:5000/team/app:1")
  Digest manifest_digest;  // of the manifest fetched by tag (or the one asked for)
  size_t layers_fetched = 0;
};

PulledImage pull(const Store& store, const std::string& reference, const PullOptions& options = {});

// kiln run's --pull=missing|always|never (podman's spelling and default).
enum class PullPolicy { missing, always, never };
PullPolicy parse_pull_policy(const std::string& text);

// What --pull asks of `reference` before a run: nothing (never; missing and present), or a
// pull. A short name that is missing, with no search registries to try, stays "image X not
// found" (nothing is contacted).
std::optional<PulledImage> ensure_image(const Store& store, const std::string& reference, PullPolicy policy,
                                        const PullOptions& options = {});

// `unqualified-search-registries = ["a", "b"]` from registries.conf text (v2 TOML); empty when
// absent; malformed text is an error (parse_registries_conf).
std::vector<std::string> unqualified_search_registries(const std::string& conf_text);

}  // namespace kiln::image
