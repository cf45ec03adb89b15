// IPv4 addresses and subnets as numbers (host byte order): parsing that names the bad value,
// containment and overlap. Pure; what the IPAM and the network checks are built on.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kiln::engine {

// "10.77.0.2" -> number; nullopt for anything else (no leading zeros, no shorthand forms).
std::optional<uint32_t> parse_ipv4(std::string_view text);
std::string format_ipv4(uint32_t address);

struct Cidr {
  uint32_t network = 0;
  int prefix = 0;

  uint32_t mask() const { return prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix); }
  uint32_t broadcast() const { return network | ~mask(); }
  bool contains(uint32_t address) const { return (address & mask()) == network; }
  // The first and last address a container may get (network and broadcast excluded).
  uint32_t first_host() const { return network + 1; }
  uint32_t last_host() const { return broadcast() - 1; }
  std::string str() const;
};

// "10.77.1.0/24"; prefix 8..30 (at least a gateway and one container); host bits must be zero.
// Throws "subnet TEXT: ..." (what names the flag: "subnet", "ip" ...).
Cidr parse_cidr(const std::string& text, const std::string& what = "subnet");
bool overlaps(const Cidr& a, const Cidr& b);

}  // namespace kiln::engine
