// kiln inspect CONTAINER|IMAGE: a container's record and state as JSON (a container is tried
// first), else an image's id, names, config and layers with their sizes. A container's env
// VALUES are never shown (they may be secrets): only its keys.
#include <cstdio>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>

#include "cli/command_registry.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "image/image_store.hpp"
#include "engine/monitor.hpp"
#include "engine/records.hpp"
#include "runtime/state.hpp"

namespace {

// The container named ref as JSON, or nullopt when there is no such container.
std::optional<nlohmann::json> inspect_container(const std::string& ref) {
  namespace rt = kiln::engine;
  rt::RunRecords records(rt::default_run_root());
  std::string id;
  try {
    id = records.resolve(ref);
  } catch (const kiln::Error&) {
    return std::nullopt;
  }
  rt::RunRecord r = records.load(id);
  std::string note = rt::settle_orphaned(records, r);
  if (!note.empty()) std::fprintf(stderr, "kiln: %s\n", note.c_str());
  if (!kiln::path_exists(records.dir(id))) return std::nullopt;  // it never started: removed
  rt::RunStatus s = records.status(r);
  nlohmann::json state = {{"Status", s.state},        {"Running", s.state == "running"}, {"StartedAt", r.started},
                          {"FinishedAt", r.finished}, {"TimedOut", r.timed_out},         {"MonitorPid", r.monitor_pid}};
  if (s.exit_code) state["ExitCode"] = *s.exit_code;
  if (!s.note.empty()) state["Error"] = s.note;
  try {
    kiln::runtime::StateDir sd(records.runtime_root(), id);
    if (sd.exists()) state["Pid"] = sd.load().pid;
  } catch (const kiln::Error&) {
  }
  nlohmann::json out = {{"Id", r.id},
                        {"Name", r.name},
                        {"Image", r.image},
                        {"ImageId", r.image_id},
                        {"Created", r.created},
                        {"Command", r.command},
                        {"EnvKeys", r.env_keys},
                        {"Hostname", r.hostname},
                        {"Rootfs", r.rootfs},
                        {"ContainerDir", r.container_dir},
                        {"ReadOnly", r.read_only},
                        {"AutoRemove", r.auto_remove},
                        {"Detached", r.detached},
                        {"Timeout", r.timeout},
                        {"LogPath", r.detached ? records.log_path(id) : ""},
                        {"State", state}};
  for (const auto& [k, v] : r.extra.items()) out[k] = v;
  return out;
}

struct State {
  std::string image;
};

kiln::cli::RegisterCommand reg("inspect", "Show a container's state, or an image's config, layers and sizes, as JSON",
                               [](kiln::cli::Command& sub) -> kiln::cli::Action {
                                 auto s = std::make_shared<State>();
                                 sub.add_option("NAME", s->image, "container or image: name or id").required();
                                 return [s] {
                                   if (auto c = inspect_container(s->image)) {
                                     std::printf("%s\n", nlohmann::json::array({*c}).dump(2).c_str());
                                     return 0;
                                   }
                                   kiln::image::Store store(kiln::cli::globals().root);
                                   auto img = store.resolve(s->image);
                                   const auto& r = img.record;
                                   nlohmann::json cfg = nlohmann::json::parse(img.config_json);
                                   nlohmann::json layers = nlohmann::json::array();
                                   for (const auto& l : r.layers)
                                     layers.push_back({{"Digest", l.digest.str()},
                                                       {"DiffID", l.diff_id.str()},
                                                       {"ChainID", l.chain_id.str()},
                                                       {"MediaType", l.media_type},
                                                       {"Size", l.size},
                                                       {"UncompressedSize", l.diff_size}});
                                   nlohmann::json out = {{"Id", r.id.str()},
                                                         {"RepoTags", r.names},
                                                         {"RepoDigests", r.repo_digests},
                                                         {"ManifestDigest", r.manifest.str()},
                                                         {"Created", r.created},
                                                         {"Loaded", r.loaded},
                                                         {"Architecture", cfg.value("architecture", "")},
                                                         {"Os", cfg.value("os", "")},
                                                         {"Config", cfg.value("config", nlohmann::json::object())},
                                                         {"Layers", layers},
                                                         {"Size", r.size()},
                                                         {"UsedBy", store.pins(r.id)}};
                                   std::printf("%s\n", nlohmann::json::array({out}).dump(2).c_str());
                                   return 0;
                                 };
                               });

}  // namespace
