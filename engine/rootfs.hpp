// The root filesystem of one `kiln run` container on the host, as data then as a mount
// (STYLE.md: setup as data): one overlay whose lower dirs are the store's shared "init" layer
// (the mount points every container needs) on top of the image's read-only layers, and whose
// upper/work dirs are the container's own (none with --read-only). Mounted before create,
// unmounted when the container is gone; the runtime copies it into the container's mount
// namespace, so the host mount is never visible inside.
#pragma once
#include <string>
#include <vector>

#include "image/image_store.hpp"

namespace kiln::engine {

struct RootfsPlan {
  std::vector<std::string> lower_dirs;  // topmost first (overlay's order)
  std::string upper_dir;                // empty: read-only
  std::string work_dir;
  std::string target;  // <container_dir>/merged

  // "lowerdir=...[,upperdir=...,workdir=...]" for mount(2) with type "overlay"; throws for a
  // path overlayfs options cannot carry (':' or ',').
  std::string overlay_options() const;
};

// layers: the image's layer dirs, lowest first (an image without layers gets empty_dir).
// container_dir holds upper/ and work/ (made by the caller) unless read_only.
RootfsPlan plan_rootfs(const std::vector<std::string>& layers, const std::string& init_dir,
                       const std::string& container_dir, bool read_only, const std::string& empty_dir);
RootfsPlan plan_rootfs(const image::Store& store, const image::Image& image, const std::string& container_dir,
                       bool read_only);

// Like docker's "-init" layer: the mount points every container needs (/proc, /sys, /dev,
// /etc/{hostname,hosts,resolv.conf}, /run/secrets) as one shared read-only dir, so that even a
// read-only rootfs of an image that lacks them starts. Made once per store, atomically.
std::string init_layer(const std::string& store_root);

// Mounts it (creating target); throws "mount rootfs overlay on TARGET: reason". When the kernel
// refuses overlayfs for these dirs, mounts it with fuse-overlayfs (engine/fuse_overlay.hpp).
void mount_rootfs(const RootfsPlan& plan);
// Why the kernel refuses an overlay whose dirs are under dir ("" when it mounts one).
std::string kernel_overlay_refusal(const std::string& dir);
// Unmounts target if something is mounted there (lazily when busy); a missing mount is fine.
void unmount_rootfs(const std::string& target);

}  // namespace kiln::engine
