#include "image/manifest.hpp"

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "image/media_types.hpp"

namespace kiln::image {

using json = nlohmann::json;
namespace {

json parse_json(std::string_view text, std::string_view what) {
  json j = json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded()) throw Error("malformed " + std::string(what) + ": not valid JSON");
  if (!j.is_object()) throw Error("malformed " + std::string(what) + ": not a JSON object");
  return j;
}

std::string get_string(const json& j, const char* key, std::string_view what, bool required) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) throw Error("malformed " + std::string(what) + ": missing \"" + key + "\"");
    return {};
  }
  if (!it->is_string()) throw Error("malformed " + std::string(what) + ": \"" + key + "\" is not a string");
  return it->get<std::string>();
}

Descriptor parse_descriptor(const json& j, std::string_view what) {
  if (!j.is_object()) throw Error("malformed " + std::string(what) + ": descriptor is not an object");
  Descriptor d;
  d.media_type = get_string(j, "mediaType", what, true);
  std::string dg = get_string(j, "digest", what, true);
  d.digest = with_context("malformed " + std::string(what), [&] { return parse_digest(dg); });
  auto size = j.find("size");
  if (size == j.end() || !size->is_number_integer() || size->get<int64_t>() < 0)
    throw Error("malformed " + std::string(what) + ": descriptor " + dg + " has no valid \"size\"");
  d.size = size->get<int64_t>();
  if (auto p = j.find("platform"); p != j.end() && !p->is_null()) {
    if (!p->is_object()) throw Error("malformed " + std::string(what) + ": \"platform\" is not an object");
    Platform pl;
    pl.os = get_string(*p, "os", what, true);
    pl.architecture = get_string(*p, "architecture", what, true);
    pl.variant = get_string(*p, "variant", what, false);
    d.platform = pl;
  }
  if (auto a = j.find("annotations"); a != j.end() && !a->is_null()) {
    if (!a->is_object()) throw Error("malformed " + std::string(what) + ": \"annotations\" is not an object");
    for (auto& [k, v] : a->items()) {
      if (!v.is_string()) throw Error("malformed " + std::string(what) + ": annotation " + k + " is not a string");
      d.annotations[k] = v.get<std::string>();
    }
  }
  return d;
}

void check_schema_version(const json& j, std::string_view what) {
  auto it = j.find("schemaVersion");
  if (it == j.end() || !it->is_number_integer() || it->get<int>() != 2)
    throw Error("malformed " + std::string(what) + ": schemaVersion is not 2");
}

json descriptor_json(const Descriptor& d) {
  json j = {{"mediaType", d.media_type}, {"digest", d.digest.str()}, {"size", d.size}};
  if (d.platform) {
    j["platform"] = {{"os", d.platform->os}, {"architecture", d.platform->architecture}};
    if (!d.platform->variant.empty()) j["platform"]["variant"] = d.platform->variant;
  }
  if (!d.annotations.empty()) j["annotations"] = d.annotations;
  return j;
}

}  // namespace

Platform parse_platform(std::string_view text) {
  Platform p;
  std::string s(text);
  auto a = s.find('/');
  if (a == std::string::npos || a == 0) throw Error("invalid platform \"" + s + "\": want os/arch[/variant]");
  p.os = s.substr(0, a);
  auto b = s.find('/', a + 1);
  p.architecture = s.substr(a + 1, b == std::string::npos ? std::string::npos : b - a - 1);
  if (b != std::string::npos) p.variant = s.substr(b + 1);
  if (p.architecture.empty()) throw Error("invalid platform \"" + s + "\": want os/arch[/variant]");
  return p;
}

Platform host_platform() {
#if defined(__x86_64__)
  return {"linux", "amd64", ""};
#elif defined(__aarch64__)
  return {"linux", "arm64", "v8"};
#elif defined(__i386__)
  return {"linux", "386", ""};
#elif defined(__arm__)
  return {"linux", "arm", "v7"};
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  return {"linux", "ppc64le", ""};
#elif defined(__s390x__)
  return {"linux", "s390x", ""};
#elif defined(__riscv) && __riscv_xlen == 64
  return {"linux", "riscv64", ""};
#else
  return {"linux", "unknown", ""};
#endif
}

Manifest parse_manifest(std::string_view text) {
  constexpr std::string_view what = "manifest";
  json j = parse_json(text, what);
  check_schema_version(j, what);
  Manifest m;
  m.media_type = get_string(j, "mediaType", what, false);
  if (!m.media_type.empty() && !media::is_manifest(m.media_type))
    throw Error("malformed manifest: unsupported mediaType " + m.media_type);
  auto c = j.find("config");
  if (c == j.end()) throw Error("malformed manifest: missing \"config\"");
  m.config = parse_descriptor(*c, what);
  auto l = j.find("layers");
  if (l == j.end() || !l->is_array()) throw Error("malformed manifest: \"layers\" is missing or not an array");
  for (const auto& d : *l) {
    Descriptor layer = parse_descriptor(d, what);
    if (!media::is_layer(layer.media_type))
      throw Error("malformed manifest: layer " + layer.digest.str() + " has unsupported mediaType " + layer.media_type);
    m.layers.push_back(std::move(layer));
  }
  return m;
}

Index parse_index(std::string_view text) {
  constexpr std::string_view what = "index";
  json j = parse_json(text, what);
  check_schema_version(j, what);
  std::string mt = get_string(j, "mediaType", what, false);
  if (!mt.empty() && !media::is_index(mt)) throw Error("malformed index: unsupported mediaType " + mt);
  auto l = j.find("manifests");
  if (l == j.end() || !l->is_array()) throw Error("malformed index: \"manifests\" is missing or not an array");
  Index idx;
  for (const auto& d : *l) idx.manifests.push_back(parse_descriptor(d, what));
  return idx;
}

std::vector<const Descriptor*> match_platform(const Index& index, const Platform& want) {
  std::vector<const Descriptor*> out;
  for (const auto& d : index.manifests) {
    if (d.platform) {
      if (d.platform->os != want.os || d.platform->architecture != want.architecture) continue;
      if (!want.variant.empty() && !d.platform->variant.empty() && want.variant != d.platform->variant) continue;
    }
    out.push_back(&d);
  }
  return out;
}

std::string manifest_to_json(const Manifest& m) {
  json j = {{"schemaVersion", 2},
            {"mediaType", m.media_type.empty() ? std::string(media::oci_manifest) : m.media_type},
            {"config", descriptor_json(m.config)},
            {"layers", json::array()}};
  for (const auto& l : m.layers) j["layers"].push_back(descriptor_json(l));
  return j.dump();
}

}  // namespace kiln::image
