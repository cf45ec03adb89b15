#include "image/image_config.hpp"

#include <nlohmann/json.hpp>

#include "common/error.hpp"

namespace kiln::image {

using json = nlohmann::json;
namespace {

[[noreturn]] void bad(const std::string& why) { throw Error("malformed image config: " + why); }

std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return {};
  if (!it->is_string()) bad(std::string("\"") + key + "\" is not a string");
  return it->get<std::string>();
}

std::vector<std::string> str_list(const json& j, const char* key) {
  std::vector<std::string> out;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return out;
  if (!it->is_array()) bad(std::string("\"") + key + "\" is not an array");
  for (const auto& v : *it) {
    if (!v.is_string()) bad(std::string("\"") + key + "\" has a non-string element");
    out.push_back(v.get<std::string>());
  }
  return out;
}

// ExposedPorts and Volumes are objects whose keys matter ({"80/tcp": {}}).
std::vector<std::string> key_set(const json& j, const char* key) {
  std::vector<std::string> out;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return out;
  if (!it->is_object()) bad(std::string("\"") + key + "\" is not an object");
  for (const auto& [k, v] : it->items()) out.push_back(k);
  return out;
}

RunConfig parse_run_config(const json& c) {
  if (!c.is_object()) bad("\"config\" is not an object");
  RunConfig r;
  r.entrypoint = str_list(c, "Entrypoint");
  r.cmd = str_list(c, "Cmd");
  r.env = str_list(c, "Env");
  r.working_dir = str(c, "WorkingDir");
  r.user = str(c, "User");
  r.exposed_ports = key_set(c, "ExposedPorts");
  r.volumes = key_set(c, "Volumes");
  r.stop_signal = str(c, "StopSignal");
  if (auto it = c.find("Labels"); it != c.end() && !it->is_null()) {
    if (!it->is_object()) bad("\"Labels\" is not an object");
    for (const auto& [k, v] : it->items()) {
      if (!v.is_string()) bad("label " + k + " is not a string");
      r.labels[k] = v.get<std::string>();
    }
  }
  return r;
}

}  // namespace

ImageConfig parse_image_config(std::string_view text) {
  json j = json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded()) bad("not valid JSON");
  if (!j.is_object()) bad("not a JSON object");
  ImageConfig ic;
  ic.architecture = str(j, "architecture");
  ic.os = str(j, "os");
  ic.variant = str(j, "variant");
  ic.created = str(j, "created");
  ic.author = str(j, "author");
  if (auto it = j.find("config"); it != j.end() && !it->is_null()) ic.config = parse_run_config(*it);
  auto rootfs = j.find("rootfs");
  if (rootfs == j.end() || !rootfs->is_object()) bad("missing \"rootfs\"");
  if (str(*rootfs, "type") != "layers") bad("rootfs.type is not \"layers\"");
  for (const auto& d : str_list(*rootfs, "diff_ids"))
    ic.diff_ids.push_back(with_context("malformed image config: rootfs.diff_ids", [&] { return parse_digest(d); }));
  if (auto it = j.find("history"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) bad("\"history\" is not an array");
    for (const auto& h : *it) {
      if (!h.is_object()) bad("history entry is not an object");
      HistoryEntry e;
      e.created = str(h, "created");
      e.created_by = str(h, "created_by");
      e.comment = str(h, "comment");
      if (auto el = h.find("empty_layer"); el != h.end() && !el->is_null()) {
        if (!el->is_boolean()) bad("history empty_layer is not a boolean");
        e.empty_layer = el->get<bool>();
      }
      ic.history.push_back(std::move(e));
    }
  }
  return ic;
}

std::vector<Digest> chain_ids(const std::vector<Digest>& diff_ids) {
  std::vector<Digest> out;
  for (const auto& d : diff_ids) {
    if (out.empty()) out.push_back(d);
    else out.push_back(sha256_of(out.back().str() + " " + d.str()));
  }
  return out;
}

}  // namespace kiln::image
