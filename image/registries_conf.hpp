// registries.conf (containers-registries.conf(5), v2 TOML) as podman reads it: the registries
// short names are tried on, and [[registry]] tables that move a namespace elsewhere
// (`location`), allow plain HTTP for it (`insecure = true`) or refuse it (`blocked = true`).
// Parsed with cpptoml (Debian's libcpptoml-dev); the file is untrusted input (bounded in size
// and nesting, every error names the file).
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace kiln::image {

// registries.conf as podman finds it: $CONTAINERS_REGISTRIES_CONF, else /etc/containers/.
std::string default_registries_conf();

struct RegistryEntry {
  std::string prefix;    // what names it covers: "example.com", "example.com/team", "*.example.com"
  std::string location;  // where they are served from (default: the prefix)
  bool insecure = false;
  bool blocked = false;
};

struct RegistriesConf {
  std::vector<std::string> unqualified_search;
  std::vector<RegistryEntry> registries;
};

// Throws kiln::Error("registries.conf FILE: ...") for malformed TOML or wrongly typed keys.
RegistriesConf parse_registries_conf(const std::string& text, const std::string& file);
// A missing file is an empty configuration.
RegistriesConf load_registries_conf(const std::string& path);

// The [[registry]] entry whose prefix covers `name` ("HOST[:PORT]/PATH", no tag): the longest
// matching prefix (at a '/' boundary), a "*.domain" prefix matching any host below it.
const RegistryEntry* match_registry(const RegistriesConf& conf, const std::string& name);

// Where `name` is fetched from after the entry's location replaced its prefix, plus what the
// entry says of it. Throws "NAME: registry PREFIX is blocked in FILE" for a blocked entry.
struct RegistryRoute {
  std::string name;  // "HOST[:PORT]/PATH" to connect to
  bool insecure = false;
};
RegistryRoute route_for(const RegistriesConf& conf, const std::string& name, const std::string& file);

}  // namespace kiln::image
