// Extracts one layer tarball (gzip, zstd or uncompressed; libarchive detects which) into a
// root directory, reading the input exactly once: the same bytes feed the sha256 of the blob,
// an optional copy into the store, the decompressor, the sha256 of the uncompressed stream
// (the diff_id) and the tar reader.
//
// Safety: every name the archive gives is cleaned lexically ("a/../b" -> "b", a leading "/"
// dropped) and an entry whose ".." climbs above the root is refused by name; every parent is
// then resolved inside the root (common/in_root.hpp), so symlinks in the tree cannot lead
// out. An existing entry is unlinked and recreated, never opened for writing, so a hardlink
// to something else is never written through. The digests are only known at the end: the
// caller unpacks into a temporary directory and commits it only if they match.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "image/digest.hpp"
#include "image/whiteout.hpp"

namespace kiln::image {

// Default cap on the decompressed size of one layer: refuses gzip bombs before the disk fills.
inline constexpr uint64_t kDefaultMaxLayerSize = 8ull << 30;  // 8 GiB
// KILN_MAX_LAYER_SIZE (bytes) overrides the default (tests use small values).
uint64_t max_layer_size_from_env();

struct UnpackOptions {
  uint64_t max_size = kDefaultMaxLayerSize;  // decompressed bytes
  int copy_fd = -1;                          // when >= 0, the raw input bytes are also written here
  int64_t expected_size = -1;                // when >= 0, more input bytes than this is an error
  // Called every few MiB with the input bytes consumed so far (for progress displays).
  std::function<void(uint64_t)> progress;
  // When set, only entries (cleaned path, size) it accepts are written; the rest are read
  // past. Used to pull the small metadata out of an image archive before its layers.
  std::function<bool(const std::string&, int64_t)> select;
  // false: skip both sha256 computations (the digests in the result are then empty).
  bool hash = true;
  // false: skip the blob's sha256 only, for a caller that hashes the input itself (a registry
  // download is hashed as it arrives); the result's digest is then empty.
  bool hash_blob = true;
  // Bounds for an outer image archive (a docker-save tar, an oci-archive): the bytes of one
  // file in it, and how many entries it may have. Checked while extracting, before writing.
  uint64_t max_entry_size = UINT64_MAX;
  uint64_t max_entries = UINT64_MAX;
};

struct UnpackResult {
  Digest digest;            // sha256 of the input bytes (the blob digest)
  Digest diff_id;           // sha256 of the decompressed tar stream
  uint64_t size = 0;        // input bytes
  uint64_t diff_size = 0;   // decompressed bytes
  std::string compression;  // "gzip", "zstd", "none", or what libarchive names
};

// Unpacks the stream read from input_fd into root_fd. Throws kiln::Error naming the entry.
UnpackResult unpack_layer(int input_fd, int root_fd, WhiteoutStrategy& whiteouts, const UnpackOptions& options = {});

// Where the input comes from when it is not a file: up to n bytes into buf, 0 at the end;
// throws on an error (a download that failed).
using InputReader = std::function<size_t(char* buf, size_t n)>;
UnpackResult unpack_layer(const InputReader& input, int root_fd, WhiteoutStrategy& whiteouts,
                          const UnpackOptions& options = {});

// Cleans an archive entry name: throws "<what> NAME climbs out of the root" for escaping "..".
// Returns "" for the root itself.
std::string clean_entry_path(const std::string& name, const char* what = "entry");

}  // namespace kiln::image
