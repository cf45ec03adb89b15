#include "common/env.hpp"

namespace kiln {

std::string_view env_key(std::string_view entry) { return entry.substr(0, entry.find('=')); }

void set_env(std::vector<std::string>& env, const std::string& entry) {
  std::string_view key = env_key(entry);
  for (auto& e : env) {
    if (env_key(e) == key) {
      e = entry;
      return;
    }
  }
  env.push_back(entry);
}

}  // namespace kiln
