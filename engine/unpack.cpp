#include "engine/unpack.hpp"

#include <fcntl.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "common/files.hpp"
#include "engine/container_spec.hpp"
#include "image/image_store.hpp"
#include "image/layer_flatten_copy.hpp"
#include "image/user_lookup.hpp"
#include "runtime/default_spec.hpp"

namespace kiln::engine {
namespace {

nlohmann::json bundle_config(const image::Image& img, int rootfs_fd) {
  nlohmann::json spec = runtime::default_spec();
  const auto& c = img.config.config;
  auto user = image::resolve_user(rootfs_fd, c.user);
  // A bundle must name a process: like umoci, "sh" when the image names none (run refuses
  // instead, as docker does: it would start a shell nobody asked for).
  RunFlags flags;
  if (c.entrypoint.empty() && c.cmd.empty()) flags.command = {"sh"};
  apply_image_process(spec["process"], image_defaults(img.config), flags, {user.uid, user.gid, user.additional_gids},
                      "");
  spec["root"] = {{"path", "rootfs"}, {"readonly", false}};
  nlohmann::json ann = {
      {"org.opencontainers.image.ref.name", img.record.names.empty() ? "" : img.record.names.front()}};
  if (!img.config.created.empty()) ann["org.opencontainers.image.created"] = img.config.created;
  if (!c.stop_signal.empty()) ann["org.opencontainers.image.stopSignal"] = c.stop_signal;
  for (const auto& [k, v] : c.labels) ann[k] = v;
  spec["annotations"] = ann;
  return spec;
}

}  // namespace

void unpack_bundle(const std::string& store_root, const std::string& image_name, const std::string& dir) {
  image::Store store(store_root);
  auto img = store.resolve(image_name);
  namespace fs = std::filesystem;
  std::error_code ec;
  bool existed = fs::exists(dir, ec);
  if (existed && !fs::is_empty(dir, ec)) throw Error("unpack: " + dir + " is not empty");
  std::string rootfs = dir + "/rootfs";
  try {
    if (!existed) mkdir_p(dir, 0700);
    mkdir_p(rootfs, 0755);
    UniqueFd rfd = open_file(rootfs, O_PATH | O_DIRECTORY);
    {
      // The stored layer dirs are copied as they are, trusted as container start trusts them
      // (their blobs were checked against digest and diff_id when they were unpacked); the
      // shared lock keeps rmi from collecting them meanwhile. A layer missing from the store
      // is one line naming it (layer_dirs), not a silent fall-back to the blob.
      auto lock = store.lock_shared();
      image::flatten_copy_layers(store.layer_dirs(img), rfd.get());
    }
    write_file_atomic(dir + "/config.json", bundle_config(img, rfd.get()).dump(2) + "\n", 0644);
  } catch (const Error& e) {
    try {
      if (existed) {
        remove_tree(rootfs);
        remove_tree(dir + "/config.json");
      } else {
        remove_tree(dir);
      }
    } catch (...) {
    }
    throw e.wrapped("unpack " + image_name);
  }
}

}  // namespace kiln::engine
