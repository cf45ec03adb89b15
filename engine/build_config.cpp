#include "engine/build_config.hpp"

#include <ctime>

#include "image/manifest.hpp"

namespace kiln::engine {

std::string epoch_rfc3339(int64_t epoch) {
  std::time_t t = static_cast<std::time_t>(epoch);
  std::tm tm;
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

nlohmann::json scratch_config() {
  image::Platform host = image::host_platform();
  nlohmann::json c = {{"architecture", host.architecture},
                      {"os", "linux"},
                      {"config", nlohmann::json::object()},
                      {"rootfs", {{"type", "layers"}, {"diff_ids", nlohmann::json::array()}}},
                      {"history", nlohmann::json::array()}};
  if (!host.variant.empty()) c["variant"] = host.variant;
  return c;
}

std::vector<std::string> config_env(const nlohmann::json& config) {
  std::vector<std::string> out;
  if (!config.contains("config") || !config["config"].is_object()) return out;
  const auto& c = config["config"];
  if (c.contains("Env") && c["Env"].is_array())
    for (const auto& e : c["Env"])
      if (e.is_string()) out.push_back(e.get<std::string>());
  return out;
}

void set_config_env(nlohmann::json& config, const std::string& key, const std::string& value) {
  auto env = config_env(config);
  std::string entry = key + "=" + value;
  bool replaced = false;
  for (auto& e : env) {
    if (e.compare(0, key.size() + 1, key + "=") == 0) {
      e = entry;
      replaced = true;
    }
  }
  if (!replaced) env.push_back(entry);
  config["config"]["Env"] = env;
}

std::string config_string(const nlohmann::json& config, const char* field) {
  if (!config.contains("config") || !config["config"].is_object()) return "";
  const auto& c = config["config"];
  return c.contains(field) && c[field].is_string() ? c[field].get<std::string>() : "";
}

void add_history(nlohmann::json& config, const std::string& created_by, bool empty_layer, int64_t epoch) {
  nlohmann::json h = {{"created", epoch_rfc3339(epoch)}, {"created_by", created_by}, {"comment", "kiln build"}};
  if (empty_layer) h["empty_layer"] = true;
  if (!config.contains("history") || !config["history"].is_array()) config["history"] = nlohmann::json::array();
  config["history"].push_back(std::move(h));
}

std::string finish_config(nlohmann::json config, const std::vector<image::LayerRecord>& layers, int64_t epoch) {
  nlohmann::json ids = nlohmann::json::array();
  for (const auto& l : layers) ids.push_back(l.diff_id.str());
  config["rootfs"] = {{"type", "layers"}, {"diff_ids", ids}};
  config["created"] = epoch_rfc3339(epoch);
  if (!config.contains("config") || !config["config"].is_object()) config["config"] = nlohmann::json::object();
  return config.dump();
}

}  // namespace kiln::engine
