#include "image/rootfs_plan.hpp"

#include "common/error.hpp"

namespace kiln::image {

std::string RootfsPlan::overlay_options() const {
  std::string o = "lowerdir=";
  for (size_t i = 0; i < lower_dirs.size(); ++i) {
    // ':' separates lowerdirs and ',' separates options: such a path cannot be passed.
    if (lower_dirs[i].find_first_of(":,") != std::string::npos)
      throw Error("layer path " + lower_dirs[i] + " contains ':' or ',', which overlayfs options cannot carry");
    o += (i ? ":" : "") + lower_dirs[i];
  }
  if (!upper_dir.empty()) o += ",upperdir=" + upper_dir + ",workdir=" + work_dir;
  return o;
}

RootfsPlan plan_rootfs(const Store& store, const Image& image, const std::string& container_dir, bool read_only,
                       const std::string& empty_dir) {
  RootfsPlan p;
  auto dirs = store.layer_dirs(image);  // lowest first
  p.lower_dirs.assign(dirs.rbegin(), dirs.rend());
  if (p.lower_dirs.empty()) {
    if (empty_dir.empty()) throw Error("image " + image.record.id.str() + " has no layers and no empty dir was given");
    p.lower_dirs.push_back(empty_dir);
  }
  if (!read_only) {
    p.upper_dir = container_dir + "/upper";
    p.work_dir = container_dir + "/work";
  } else if (p.lower_dirs.size() == 1) {
    p.kind = RootfsPlan::Kind::bind_ro;
    p.bind_source = p.lower_dirs.front();
  }
  return p;
}

}  // namespace kiln::image
