// linux.memoryPolicy (runtime-spec 1.3): the NUMA policy the container's process starts with
// (set_mempolicy(2), inherited across fork and exec), checked with the spec's rules when
// config.json is read.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace kiln::runtime {

struct MemoryPolicy {
  std::string mode_name;
  int mode = 0;                      // MPOL_* | MPOL_F_* flags
  std::vector<unsigned long> nodes;  // bitmask, one bit per node
  unsigned long max_node = 0;        // highest node + 1
};

MemoryPolicy parse_memory_policy(const nlohmann::json& policy, const std::string& field);
void apply_memory_policy(const MemoryPolicy& policy);

}  // namespace kiln::runtime
