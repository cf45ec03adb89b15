// Networks a container can join: their definitions, kept in the store (<store>/networks/NAME.json,
// like podman's /etc/containers/networks). One bridge each. The default network `kiln` (bridge
// kiln0, 10.77.0.0/24) exists without being created and cannot be removed.
//
// Subnets: the default is 10.77.0.0/24, and `network create` without --subnet takes the first free
// 10.77.N.0/24 (N = 1..255). 10.77.0.0/16 is clear of podman's default (10.88.0.0/16) and its pool
// for new networks (10.89.0.0/16 and up), of docker's (172.17.0.0/16 .. 172.31.0.0/16 and
// 192.168.0.0/16) and of the usual Kubernetes ranges (10.96.0.0/12, 10.244.0.0/16, 10.42-43/16).
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/ipv4.hpp"

namespace kiln::engine {

inline constexpr const char* kDefaultNetwork = "kiln";
inline constexpr const char* kDefaultBridge = "kiln0";

struct NetworkConfig {
  std::string name;
  std::string id;  // 64 hex
  std::string bridge;
  Cidr subnet;
  uint32_t gateway = 0;
  bool internal = false;     // no route out of the bridge, no NAT
  bool dns_enabled = false;  // aardvark-dns answers container names (user-created networks)
  std::string created;       // RFC 3339; empty for the default network
};

nlohmann::json network_to_json(const NetworkConfig& n);
NetworkConfig network_from_json(const nlohmann::json& j);
NetworkConfig default_network();

struct NetworkCreateRequest {
  std::string name;
  std::string subnet;   // empty: the first free 10.77.N.0/24
  std::string gateway;  // empty: the subnet's first address
  bool internal = false;
};

// [a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 64 characters; throws "network name \"X\": ...".
void validate_network_name(const std::string& name);
// The IPv4 routes of the host (from /proc/net/route), without the default route: a new subnet
// must not overlap a network the host already reaches directly.
std::vector<Cidr> host_routes();

class NetworkStore {
 public:
  explicit NetworkStore(const std::string& store_root);
  // Checks everything first; throws one line naming the bad value ("subnet X overlaps network
  // Y (Z)", "network NAME already exists"); nothing is written on failure.
  NetworkConfig create(const NetworkCreateRequest& request) const;
  std::vector<NetworkConfig> list() const;  // the default first, then by name
  std::optional<NetworkConfig> find(const std::string& name) const;
  NetworkConfig load(const std::string& name) const;  // throws "network NAME not found"
  // The caller has checked that no container uses it; the default network is refused.
  void remove(const std::string& name) const;

 private:
  std::string dir_;
};

}  // namespace kiln::engine
