// How a layer's whiteouts are applied. OCI layers mark deletions with `.wh.NAME` files and
// "hide everything below" with `.wh..wh..opq`. Two consumers want different results:
//  - the layer store keeps every layer in its own directory in overlayfs format, so one
//    overlay mount stacks them: whiteouts become 0/0 character devices and opaque dirs get
//    trusted.overlay.opaque=y (OverlayWhiteouts);
//  - `kiln unpack` stacks all layers onto one directory, so whiteouts delete what the lower
//    layers put there (FlattenWhiteouts).
// The unpacker calls the same interface for both and never interprets whiteouts itself.
#pragma once
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "common/unique_fd.hpp"

namespace kiln::image {

class WhiteoutStrategy {
 public:
  virtual ~WhiteoutStrategy() = default;
  virtual const char* name() const = 0;

  // A new layer starts (entries from earlier layers are now "lower").
  virtual void begin_layer() { created_.clear(); }
  // The unpacker wrote `path` (root-relative, cleaned) in the current layer.
  void created(const std::string& path) { created_.insert(path); }

  // `.wh.NAME` at `path` (= dir/NAME); parent_fd is the resolved dir inside root.
  virtual void whiteout(int root_fd, int parent_fd, const std::string& name, const std::string& path) = 0;
  // `.wh..wh..opq` inside dir_path ("" for the root).
  virtual void opaque(int root_fd, const std::string& dir_path) = 0;

  // A hardlink names a target that is not in the root. The overlay store may find it in a
  // lower layer and copy it up as `name` in parent_fd; returns false when it cannot.
  virtual bool copy_up(const std::string& /*target*/, int /*parent_fd*/, const std::string& /*name*/) { return false; }

 protected:
  // Paths this layer wrote: whiteouts and opaque markers act on lower layers only, so they
  // must not remove what the same layer put there (tars do not promise an order).
  std::unordered_set<std::string> created_;
};

// The xattr that marks a dir opaque in the layer store: trusted.overlay.opaque, or in a user
// namespace (overlayfs mounted with userxattr; trusted.* needs privilege over the initial
// namespace) user.overlay.opaque. The store writes it and container start reads it.
const char* overlay_opaque_xattr();

// For the layer store. `lowers` are the directories of the layers below, nearest first
// (used to copy up hardlink targets that live in a lower layer).
class OverlayWhiteouts : public WhiteoutStrategy {
 public:
  explicit OverlayWhiteouts(std::vector<UniqueFd> lowers = {}) : lowers_(std::move(lowers)) {}
  const char* name() const override { return "overlay"; }
  void whiteout(int root_fd, int parent_fd, const std::string& name, const std::string& path) override;
  void opaque(int root_fd, const std::string& dir_path) override;
  bool copy_up(const std::string& target, int parent_fd, const std::string& name) override;

 private:
  std::vector<UniqueFd> lowers_;
};

// Overlay whiteouts for a layer whose lowers are not all stored yet (layers unpack in
// parallel): a hardlink to a file of a lower layer cannot be copied up. Noted (the unpack then
// fails on that entry), so the layer is unpacked again once its lowers are stored.
class PendingLowersWhiteouts : public OverlayWhiteouts {
 public:
  bool copy_up(const std::string&, int, const std::string&) override {
    missed_ = true;
    return false;
  }
  bool missed() const { return missed_; }

 private:
  bool missed_ = false;
};

// For a flattened rootfs: whiteouts delete from the one directory.
class FlattenWhiteouts : public WhiteoutStrategy {
 public:
  const char* name() const override { return "flatten"; }
  void whiteout(int root_fd, int parent_fd, const std::string& name, const std::string& path) override;
  void opaque(int root_fd, const std::string& dir_path) override;

 private:
  void remove_lower_children(int dir_fd, const std::string& dir_path);
};

}  // namespace kiln::image
