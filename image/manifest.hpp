// OCI / Docker schema-2 manifests and indexes: parsing with errors that name the field,
// and picking the manifest for a platform out of an index.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "image/digest.hpp"

namespace kiln::image {

struct Platform {
  std::string os;
  std::string architecture;
  std::string variant;
  std::string str() const { return os + "/" + architecture + (variant.empty() ? "" : "/" + variant); }
};

// Parses "os/arch[/variant]"; throws naming the text.
Platform parse_platform(std::string_view text);
// linux/<the architecture this binary runs on, in GOARCH spelling>.
Platform host_platform();

struct Descriptor {
  std::string media_type;
  Digest digest;
  int64_t size = 0;
  std::optional<Platform> platform;
  std::map<std::string, std::string> annotations;
};

struct Manifest {
  std::string media_type;
  Descriptor config;
  std::vector<Descriptor> layers;
};

struct Index {
  std::vector<Descriptor> manifests;
};

// Parse JSON text; throw "malformed manifest: <why>" etc. `what` names the document in errors.
Manifest parse_manifest(std::string_view json_text);
Index parse_index(std::string_view json_text);

// The manifests of `index` whose platform matches `want` (os and architecture; variant only
// when both name one). Descriptors without a platform match anything.
std::vector<const Descriptor*> match_platform(const Index& index, const Platform& want);

// A manifest in OCI form (what the store keeps for images loaded from docker archives).
std::string manifest_to_json(const Manifest& m);

}  // namespace kiln::image
