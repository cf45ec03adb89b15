// netavark (podman's network backend) as kiln drives it: one JSON description of a container's
// network on a file, `netavark --config DIR setup|teardown NETNS`. netavark makes the bridge,
// the veth pair, the addresses and routes, the iptables NAT and port forwarding rules, and
// starts aardvark-dns (podman's DNS server) for networks with DNS; it allocates no addresses
// (engine/ipam.hpp does). Binaries: $KILN_NETAVARK / $KILN_AARDVARK_DNS, else Debian's paths
// (/usr/lib/podman/...), else Fedora's (/usr/libexec/podman/...).
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/network_config.hpp"
#include "engine/port_spec.hpp"

namespace kiln::engine {

struct NetavarkContainer {
  std::string id;
  std::string name;
  NetworkConfig network;
  uint32_t ip = 0;
  std::vector<std::string> aliases;  // DNS names besides the container's name
  std::vector<PortSpec> ports;       // host ports already chosen
};

// Pure: netavark 1.4's input (network_info, networks, port_mappings, container id and name).
nlohmann::json netavark_options(const NetavarkContainer& c);

struct NetavarkResult {
  std::string mac;
  std::vector<std::string> dns_servers;
  std::vector<std::string> dns_search;
};

// Runs `netavark setup`; options_file holds netavark_options(). Throws netavark's own message
// ("network setup: netavark: ..."), after which a teardown undoes what was made.
// host_netns: the namespace netavark runs in, where the bridge and its firewall rules are made
// ("": kiln's own, the host's; rootless: the session's network namespace for bridges).
NetavarkResult netavark_setup(const std::string& config_dir, const std::string& netns, const std::string& options_file,
                              const std::string& network_name, const std::string& host_netns = "");
// Runs `netavark teardown`; throws its message (the caller logs it and goes on).
void netavark_teardown(const std::string& config_dir, const std::string& netns, const std::string& options_file,
                       const std::string& host_netns = "");

}  // namespace kiln::engine
