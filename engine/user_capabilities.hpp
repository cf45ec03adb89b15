// `kiln info`: what this user's kiln can do here, in words: root or rootless, the id mapping
// its containers get, the overlay kind, cgroups, networks.
#pragma once
#include <string>
#include <vector>

namespace kiln::engine {

struct CapabilityLine {
  std::string name;   // "id mapping", "overlay", "cgroups", "network", ...
  std::string value;  // one line
};

std::vector<CapabilityLine> user_capabilities(const std::string& store_root, const std::string& run_root);

}  // namespace kiln::engine
