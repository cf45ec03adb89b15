// `kiln unpack`'s rootfs: the image's stored layer dirs (overlay format, see whiteout.hpp)
// copied onto one directory, flattened, so the result is what an overlay mount of the same
// layers shows a container.
//
// Merge rules, applied top layer first ("the first layer that has a path decides"):
//  - an upper non-directory (file, symlink, device, fifo) hides everything below it at that path;
//  - an upper whiteout (a 0/0 character device) hides everything below and is not copied;
//  - an upper directory merges with lower directories of the same name, down to and including
//    the first one marked opaque (trusted.overlay.opaque=y, or user.overlay.opaque=y as a
//    rootless store writes it); a lower non-directory below it ends the merge (it is hidden);
//  - the opaque markers (any trusted.overlay.* / user.overlay.* xattr) are never copied.
// A layer whose root is opaque (`.wh..wh..opq` at "/") hides every lower layer, as OCI and
// umoci have it. overlayfs ignores that mark on a lower layer's root, so container start
// leaves those layers out of the mount (engine/rootfs.cpp) and both give the same tree.
// Each output entry is copied once, from the layer that decides it. Files sharing an inode in
// a layer dir are hardlinked in the output too. A hardlink that pointed into a lower layer's
// tar was already copied up by the store (overlay has no cross-layer links), so it comes out
// as a separate file, as a container sees it.
//
// Safety: the walk never follows a symlink (every directory is opened with O_NOFOLLOW|
// O_DIRECTORY from its parent's fd, every output entry is made with O_EXCL/mkdirat/mknodat in
// the output dir's fd), so a layer's symlink `a -> /etc` under an upper dir `a/` yields a real
// directory `a`, never a write through the link.
//
// Trust: the layer dirs are used as they are, as container start uses them: their blobs were
// verified against digest and diff_id when `kiln load` unpacked them, and are not re-read.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace kiln::image {

struct FlattenCopyOptions {
  // Copy threads; 0: the CPUs this process may run on, at most kMaxFlattenCopyThreads.
  size_t threads = 0;
};
inline constexpr size_t kMaxFlattenCopyThreads = 4;

// layer_dirs: lowest layer first (as Store::layer_dirs gives them). dest_fd: an empty
// directory; its own mode, owner and times are left as they are. Throws kiln::Error naming
// the path (relative to the rootfs) and the system call that failed.
void flatten_copy_layers(const std::vector<std::string>& layer_dirs, int dest_fd,
                         const FlattenCopyOptions& options = {});

}  // namespace kiln::image
