// The root filesystem of one `kiln run` container on the host: one overlay mount (lower = the
// image's shared read-only layers, upper/work = the container's own dirs; no upper with
// --read-only), or a read-only bind of a single layer (overlayfs wants two lowers without an
// upper). Mounted before create, unmounted when the container is gone. The runtime copies it
// into the container's mount namespace, so the host mount is never visible inside.
#pragma once
#include <string>
#include <vector>

namespace kiln::runtime {

struct RootfsMount {
  enum class Kind { overlay, bind_ro };
  Kind kind = Kind::overlay;
  std::string overlay_options;  // "lowerdir=...[,upperdir=...,workdir=...]"
  std::string bind_source;
  std::string target;           // <container_dir>/merged
};

// Mounts it (creating target); throws "mount rootfs on TARGET: reason".
void mount_rootfs(const RootfsMount& m);
// Unmounts target if something is mounted there (lazily when busy); a missing mount is fine.
void unmount_rootfs(const std::string& target);

// Unmounts in the destructor unless released.
class MountedRootfs {
 public:
  explicit MountedRootfs(const RootfsMount& m) : target_(m.target) { mount_rootfs(m); }
  ~MountedRootfs() {
    if (!target_.empty()) unmount_rootfs(target_);
  }
  MountedRootfs(const MountedRootfs&) = delete;
  MountedRootfs& operator=(const MountedRootfs&) = delete;
  void release() { target_.clear(); }

 private:
  std::string target_;
};

}  // namespace kiln::runtime
