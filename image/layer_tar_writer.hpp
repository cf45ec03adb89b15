// Turns a directory in overlayfs upper-dir form (what a build step changed) into an OCI layer
// tar: 0/0 character devices become `.wh.NAME` files, directories marked
// trusted.overlay.opaque=y get a `.wh..wh..opq` entry. The tar is reproducible: entries in byte
// order of their paths, modification times clamped to `epoch` (no atime or ctime), numeric
// uid/gid without names, only the security.capability xattr kept.
#pragma once
#include <cstdint>
#include <string>

#include "image/digest.hpp"

namespace kiln::image {

// Writes the tar of dir to out_path (created, uncompressed). Throws kiln::Error naming the entry.
void write_layer_tar(const std::string& dir, const std::string& out_path, int64_t epoch);

struct LayerTarResult {
  Digest digest;  // sha256 of the tar: blob digest and diff id alike (uncompressed)
  uint64_t size = 0;
};

// The same tar bytes, and dir made, in place, into what unpacking that tar into the store
// gives (so dir itself can become the stored layer): times set to the tar's (clamped, whole
// seconds, atime = mtime), every xattr gone but security.capability (files) and
// trusted.overlay.opaque=y (dirs), sockets removed, the root 0755 root:root without xattrs.
LayerTarResult write_layer_tar_in_place(const std::string& dir, const std::string& out_path, int64_t epoch);

}  // namespace kiln::image
