// The root filesystem of one container, as data (STYLE.md: "setup as data"): which layer
// dirs to stack and how. runtime/ applies it; here it can be unit-tested and logged.
//
//   writable:  overlay  lowerdir=<top>:...:<bottom>, upperdir=<ctr>/upper, workdir=<ctr>/work
//   read-only: overlay  lowerdir=<top>:...:<bottom> (no upper)
//              -- overlayfs refuses a single lowerdir without an upperdir, so a one-layer
//                 read-only image is a read-only bind mount of that layer instead.
#pragma once
#include <string>
#include <vector>

#include "image/image_store.hpp"

namespace kiln::image {

struct RootfsPlan {
  enum class Kind { overlay, bind_ro };
  Kind kind = Kind::overlay;
  std::vector<std::string> lower_dirs;  // topmost first (overlay's order)
  std::string upper_dir;                // empty: read-only
  std::string work_dir;
  std::string bind_source;              // Kind::bind_ro

  // "lowerdir=...,upperdir=...,workdir=..." for mount(2) with type "overlay".
  std::string overlay_options() const;
};

// container_dir holds upper/ and work/ (created by the caller) unless read_only.
// An image with no layers gets an overlay of `empty_dir` (the caller's, an empty dir).
RootfsPlan plan_rootfs(const Store& store, const Image& image, const std::string& container_dir, bool read_only,
                       const std::string& empty_dir = "");

}  // namespace kiln::image
