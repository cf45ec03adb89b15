#include "runtime/memory_policy.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <climits>
#include <string_view>

#include "common/error.hpp"
#include "common/json_fields.hpp"

namespace kiln::runtime {

using json = nlohmann::json;

namespace {

// include/uapi/linux/mempolicy.h
constexpr std::array<std::pair<std::string_view, int>, 7> kMemoryPolicyModes{{
    {"MPOL_DEFAULT", 0},
    {"MPOL_PREFERRED", 1},
    {"MPOL_BIND", 2},
    {"MPOL_INTERLEAVE", 3},
    {"MPOL_LOCAL", 4},
    {"MPOL_PREFERRED_MANY", 5},
    {"MPOL_WEIGHTED_INTERLEAVE", 6},
}};
constexpr int kStaticNodes = 1 << 15, kRelativeNodes = 1 << 14, kNumaBalancing = 1 << 13;
constexpr std::array<std::pair<std::string_view, int>, 3> kMemoryPolicyFlags{{
    {"MPOL_F_NUMA_BALANCING", kNumaBalancing},
    {"MPOL_F_RELATIVE_NODES", kRelativeNodes},
    {"MPOL_F_STATIC_NODES", kStaticNodes},
}};
constexpr unsigned long kMaxNuma = 1024;  // CONFIG_NODES_SHIFT is at most 10

unsigned long parse_node(std::string_view text, const std::string& field) {
  if (text.empty() || text.size() > 4 || text.find_first_not_of("0123456789") != std::string_view::npos)
    json_fields::bad_field(field, "node \"" + std::string(text) + "\" is not a number");
  unsigned long n = std::stoul(std::string(text));
  if (n >= kMaxNuma) json_fields::bad_field(field, "node " + std::string(text) + " is out of range");
  return n;
}

// "0-3,7" as cpuset lists write it.
void parse_node_list(const std::string& text, const std::string& field, MemoryPolicy& out) {
  const size_t bits = sizeof(unsigned long) * CHAR_BIT;
  out.nodes.assign(kMaxNuma / bits, 0);
  size_t i = 0;
  while (i <= text.size()) {
    size_t comma = text.find(',', i);
    std::string_view item(text.data() + i, (comma == std::string::npos ? text.size() : comma) - i);
    size_t dash = item.find('-');
    unsigned long lo = parse_node(item.substr(0, dash), field);
    unsigned long hi = dash == std::string_view::npos ? lo : parse_node(item.substr(dash + 1), field);
    if (hi < lo) json_fields::bad_field(field, "range " + std::string(item) + " runs backwards");
    for (unsigned long n = lo; n <= hi; ++n) out.nodes[n / bits] |= 1UL << (n % bits);
    if (hi + 1 > out.max_node) out.max_node = hi + 1;
    if (comma == std::string::npos) break;
    i = comma + 1;
  }
}

}  // namespace

MemoryPolicy parse_memory_policy(const json& p, const std::string& field) {
  using namespace json_fields;
  if (!p.is_object()) bad_field(field, "must be an object");
  MemoryPolicy out;
  out.mode_name = as_string(required_member(p, "mode", field), field + ".mode");
  bool known = false;
  for (const auto& [name, value] : kMemoryPolicyModes)
    if (name == out.mode_name) {
      out.mode = value;
      known = true;
    }
  if (!known) bad_field(field + ".mode", "unknown mode \"" + out.mode_name + "\"");
  const std::string nodes = opt_string(p, "nodes", field).value_or("");
  const bool takes_no_nodes = out.mode_name == "MPOL_DEFAULT" || out.mode_name == "MPOL_LOCAL";
  if (takes_no_nodes && !nodes.empty()) bad_field(field + ".nodes", out.mode_name + " takes no nodes");
  if (!takes_no_nodes && out.mode_name != "MPOL_PREFERRED" && nodes.empty())
    bad_field(field + ".nodes", out.mode_name + " needs nodes");
  if (!nodes.empty()) parse_node_list(nodes, field + ".nodes", out);
  int flags = 0;
  for (const std::string& name : string_list(p, "flags", field)) {
    int bit = 0;
    for (const auto& [n, value] : kMemoryPolicyFlags)
      if (n == name) bit = value;
    if (!bit) bad_field(field + ".flags", "unknown flag \"" + name + "\"");
    flags |= bit;
  }
  if ((flags & kStaticNodes) && (flags & kRelativeNodes))
    bad_field(field + ".flags", "MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude each other");
  out.mode |= flags;
  return out;
}

void apply_memory_policy(const MemoryPolicy& p) {
  const unsigned long* mask = p.nodes.empty() ? nullptr : p.nodes.data();
  // maxnode counts bits and the kernel reads one fewer than it is given.
  if (::syscall(SYS_set_mempolicy, p.mode, mask, p.nodes.empty() ? 0 : p.max_node + 1) != 0)
    throw_errno("linux.memoryPolicy: set " + p.mode_name);
}

}  // namespace kiln::runtime
