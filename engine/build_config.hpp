// The image config a build makes, edited as JSON (a base image's fields kiln does not model,
// such as Healthcheck or OnBuild, carry over untouched): the metadata instructions (ENV, CMD,
// LABEL, ...) and the history, with times from the build's epoch so that the config, and so the
// image id, does not depend on when the build ran.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "image/image_store.hpp"

namespace kiln::engine {

// RFC 3339 of a unix time.
std::string epoch_rfc3339(int64_t epoch);

// A config for FROM scratch (this host's platform, nothing else).
nlohmann::json scratch_config();

// config.config.Env as KEY=VALUE; set replaces an entry with the same key.
std::vector<std::string> config_env(const nlohmann::json& config);
void set_config_env(nlohmann::json& config, const std::string& key, const std::string& value);

// A string field of config.config ("" when missing).
std::string config_string(const nlohmann::json& config, const char* field);

void add_history(nlohmann::json& config, const std::string& created_by, bool empty_layer, int64_t epoch);

// The final config: rootfs.diff_ids from the layers, created from the epoch.
std::string finish_config(nlohmann::json config, const std::vector<image::LayerRecord>& layers, int64_t epoch);

}  // namespace kiln::engine
