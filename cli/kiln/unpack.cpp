// kiln unpack IMAGE DIR: an OCI bundle like `umoci unpack`: DIR/rootfs (all layers flattened)
// and DIR/config.json (runtime defaults + the image's Entrypoint/Cmd/Env/WorkingDir/User).
#include <fcntl.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "cli/command_registry.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "image/image_store.hpp"
#include "image/loader.hpp"
#include "image/user_lookup.hpp"
#include "runtime/default_spec.hpp"

namespace {

struct State {
  std::string image;
  std::string dir;
};

nlohmann::json bundle_config(const kiln::image::Image& img, int rootfs_fd) {
  nlohmann::json spec = kiln::runtime::default_spec();
  const auto& c = img.config.config;
  std::vector<std::string> args = c.entrypoint;
  args.insert(args.end(), c.cmd.begin(), c.cmd.end());
  if (args.empty()) args = {"sh"};
  spec["process"]["args"] = args;
  // Image env overrides the defaults key by key.
  std::vector<std::string> env = spec["process"]["env"].get<std::vector<std::string>>();
  for (const auto& e : c.env) {
    auto key = e.substr(0, e.find('='));
    std::erase_if(env, [&](const std::string& d) { return d.substr(0, d.find('=')) == key; });
    env.push_back(e);
  }
  spec["process"]["env"] = env;
  spec["process"]["cwd"] = c.working_dir.empty() ? "/" : c.working_dir;
  auto user = kiln::image::resolve_user(rootfs_fd, c.user);
  spec["process"]["user"] = {{"uid", user.uid}, {"gid", user.gid}};
  if (!user.additional_gids.empty()) spec["process"]["user"]["additionalGids"] = user.additional_gids;
  spec["root"] = {{"path", "rootfs"}, {"readonly", false}};
  nlohmann::json ann = {{"org.opencontainers.image.ref.name", img.record.names.empty() ? "" : img.record.names.front()}};
  if (!img.config.created.empty()) ann["org.opencontainers.image.created"] = img.config.created;
  if (!c.stop_signal.empty()) ann["org.opencontainers.image.stopSignal"] = c.stop_signal;
  for (const auto& [k, v] : c.labels) ann[k] = v;
  spec["annotations"] = ann;
  return spec;
}

kiln::cli::RegisterCommand reg("unpack", "Write an OCI bundle (config.json + flattened rootfs) for an image", [](CLI::App& sub) -> kiln::cli::Action {
  auto s = std::make_shared<State>();
  sub.add_option("IMAGE", s->image, "name or id")->required();
  sub.add_option("DIR", s->dir, "bundle directory (must not exist or be empty)")->required();
  return [s] {
    kiln::image::Store store(kiln::cli::globals().root);
    auto img = store.resolve(s->image);
    namespace fs = std::filesystem;
    std::error_code ec;
    bool existed = fs::exists(s->dir, ec);
    if (existed && !fs::is_empty(s->dir, ec)) throw kiln::Error("unpack: " + s->dir + " is not empty");
    // Leave nothing behind on failure: remove what we made.
    std::string rootfs = s->dir + "/rootfs";
    try {
      if (!existed) kiln::mkdir_p(s->dir, 0700);
      kiln::mkdir_p(rootfs, 0755);
      kiln::image::unpack_rootfs(store, img, rootfs);
      kiln::UniqueFd rfd = kiln::open_file(rootfs, O_PATH | O_DIRECTORY);
      kiln::write_file_atomic(s->dir + "/config.json", bundle_config(img, rfd.get()).dump(2) + "\n", 0644);
    } catch (const kiln::Error& e) {
      try {
        if (existed) {
          kiln::remove_tree(rootfs);
          kiln::remove_tree(s->dir + "/config.json");
        } else {
          kiln::remove_tree(s->dir);
        }
      } catch (...) {
      }
      throw e.wrapped("unpack " + s->image);
    }
    return 0;
  };
});

}  // namespace
