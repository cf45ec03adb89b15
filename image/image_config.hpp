// The image configuration (OCI image-spec "config", Docker's container image JSON): what a
// container started from the image runs by default, plus the layer diff_ids and history.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "image/digest.hpp"

namespace kiln::image {

struct HistoryEntry {
  std::string created;
  std::string created_by;
  std::string comment;
  bool empty_layer = false;
};

struct RunConfig {
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::vector<std::string> env;  // "KEY=value"
  std::string working_dir;
  std::string user;
  std::vector<std::string> exposed_ports;  // "80/tcp"
  std::vector<std::string> volumes;
  std::map<std::string, std::string> labels;
  std::string stop_signal;
};

struct ImageConfig {
  std::string architecture;
  std::string os;
  std::string variant;
  std::string created;
  std::string author;
  RunConfig config;
  std::vector<Digest> diff_ids;  // rootfs.diff_ids, lowest layer first
  std::vector<HistoryEntry> history;
};

// Parses the config JSON; throws "malformed image config: <field/why>".
ImageConfig parse_image_config(std::string_view json_text);

// Chain ids (OCI image-spec): ChainID(L0) = DiffID(L0),
// ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln)). The layer store is keyed by them, so a
// layer dir names its content AND everything below it.
std::vector<Digest> chain_ids(const std::vector<Digest>& diff_ids);

}  // namespace kiln::image
