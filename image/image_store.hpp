// The image store: what `kiln load` fills and `kiln run` reads.
//
// Layout under ROOT (default /var/lib/kiln):
//   lock, names.lock        flock files (store_lock.hpp)
//   blobs/sha256/<hex>      verified blobs: manifests, configs and the compressed layer blobs
//                           (kept for push and save; they cost the compressed size, usually
//                           a third of the unpacked one)
//   layers/<chain-hex>/     one unpacked layer, keyed by chain id, never modified once renamed
//                           into place: diff/ is the overlayfs lower dir, layer.json its metadata
//   images/<id-hex>.json    one record per image (id = config digest): names, manifest, layers
//   refs/<id-hex>/<ctr>     pins: a container using the image (rmi refuses pinned images)
//   tmp/<pid>-XXXXXX/       work dirs; every layer is unpacked here, then renamed into place
//
// Reference counts are computed, not stored: a layer or blob is in use while some image
// record names it, so a crash can never leave a wrong count behind. rmi deletes the record
// and then collects whatever nothing references any more.
//
// Typical use by `kiln run`:
//   image::Store store(root);
//   image::Image img = store.resolve("busybox:latest");   // or an id / id prefix
//   store.pin(img.record.id, container_id);                 // before mounting
//   auto lowers = store.layer_dirs(img);                    // lowest first
//   // overlay lowerdir= wants the TOPMOST first; engine/rootfs.hpp builds the mount
//   // (and handles the one-layer read-only case overlayfs refuses):
//   auto plan = image::plan_rootfs(store, img, container_dir, read_only);
//   ... img.config.config.entrypoint / cmd / env / working_dir / user ...
//   store.unpin(img.record.id, container_id);               // when the container is deleted
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "image/reference.hpp"
#include "image/digest.hpp"
#include "image/image_config.hpp"
#include "image/store_lock.hpp"

namespace kiln::image {

struct LayerRecord {
  Digest chain_id;
  Digest diff_id;
  Digest digest;           // the blob it was unpacked from
  std::string media_type;  // of that blob
  int64_t size = 0;        // blob bytes
  uint64_t diff_size = 0;  // uncompressed tar bytes
};

struct ImageRecord {
  Digest id;                        // = config digest
  Digest manifest;                  // digest of the stored manifest blob
  std::vector<std::string> names;   // "repo:tag"
  std::vector<LayerRecord> layers;  // lowest first
  std::string created;              // from the config
  std::string loaded;               // RFC 3339, when it entered the store
  // "HOST/REPO@sha256:..." of the manifest a registry served by tag (an index's own digest for
  // a multi-arch image): what `kiln images --digests` shows and a pull by digest asks for.
  std::vector<std::string> repo_digests;
  uint64_t size() const;  // sum of uncompressed layer sizes
};

struct Image {
  ImageRecord record;
  ImageConfig config;
  std::string config_json;  // the verified config blob as stored
};

class Store {
 public:
  // Creates the layout if missing.
  explicit Store(std::string root);
  const std::string& root() const { return root_; }

  StoreLock lock_shared() const { return StoreLock(root_ + "/lock", StoreLock::Mode::shared); }
  StoreLock lock_exclusive() const { return StoreLock(root_ + "/lock", StoreLock::Mode::exclusive); }

  // All images, sorted by name of their first tag, then id.
  std::vector<ImageRecord> list() const;
  // A name ("busybox", "busybox:1.36"), a full id ("sha256:<hex>" or "<hex>") or a unique
  // prefix of one (at least 4 hex characters). Throws "image X not found" / "... ambiguous".
  Image resolve(std::string_view ref) const;
  // Absolute layer directories (the diff/ dirs), lowest layer first.
  std::vector<std::string> layer_dirs(const Image& image) const;

  // Pins keep an image (and so its layers) from rmi while a container uses it.
  void pin(const Digest& image_id, const std::string& container_id) const;
  void unpin(const Digest& image_id, const std::string& container_id) const;
  std::vector<std::string> pins(const Digest& image_id) const;

  struct Removed {
    std::vector<std::string> untagged;
    std::optional<Digest> deleted;
  };
  // rmi: a name that is one of several only untags; otherwise the image goes (unless pinned,
  // or force) and unreferenced layers and blobs are collected.
  Removed remove(std::string_view ref, bool force = false) const;
  struct Pruned {
    size_t entries = 0, layers = 0;
    uint64_t bytes = 0;  // layer blobs and unpacked layers freed
  };
  // image prune: drops the build cache's entries whose layer no image uses (and metadata-only
  // ones), then collects the layers and blobs nothing names any more. A layer an image uses
  // (and so a container of that image, which pins it) stays, with its cache entry.
  Pruned prune_build_cache() const;

  // --- used by the loader (callers hold lock_shared()) ---
  std::string blob_path(const Digest& d) const { return root_ + "/blobs/sha256/" + d.hex; }
  std::string layer_path(const Digest& chain) const { return root_ + "/layers/" + chain.hex; }
  std::string tmp_dir() const { return root_ + "/tmp"; }
  bool has_blob(const Digest& d) const;
  std::optional<LayerRecord> layer(const Digest& chain) const;
  // Reads a stored blob and checks its digest (corruption is reported, not used).
  std::string read_blob(const Digest& d) const;
  // Publishing is crash-safe for power loss too: data is on disk (fsync, syncfs) before the
  // rename that gives it its name, and the directory entry after it.
  // Verifies data against d and writes it as a blob (atomically); false (no-op) when present.
  bool put_blob(const Digest& d, std::string_view data) const;
  // Moves a file whose content was verified as d into blobs/ (rename); false when present.
  bool commit_blob_file(const Digest& d, const std::string& file) const;
  // Moves a finished layer dir (containing diff/) into layers/<chain>, writing layer.json.
  // Returns false when another load committed the same layer first (ours is discarded).
  bool commit_layer(const LayerRecord& rec, const std::string& dir) const;
  // A failed load: removes those of the layers and blobs it added that no image record names
  // (caller holds lock_exclusive(), so no other load is half-way through using them).
  void discard_unreferenced(const std::vector<Digest>& layers, const std::vector<Digest>& blobs) const;
  // Writes the image record; `names` move to this image from any image that had them.
  void commit_image(ImageRecord rec) const;

  // The record images/<hex>.json; nullopt when missing; throws when corrupt.
  std::optional<ImageRecord> read_record(const std::string& hex) const;

 private:
  void write_record(const ImageRecord& rec) const;
  void collect_garbage() const;  // caller holds lock_exclusive()

  std::string root_;
};

}  // namespace kiln::image
