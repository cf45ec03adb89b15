// kiln's own address and host-port leases (netavark allocates nothing). A lease is a file whose
// name is the address (or protocol-port) and whose content is the container's id, created with
// O_EXCL, so two containers can never hold one; callers hold the network lock
// (<run_root>/networks/lock) while they allocate, which also serialises netavark itself.
//
//   <run_root>/networks/<network>/<a.b.c.d>   address leases
//   <run_root>/ports/<tcp|udp>-<port>          published host ports
//
// Released on teardown. A lease whose container has no record any more (kiln was killed
// half-way) is taken back by the next allocation: crash recovery needs no daemon.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/unique_fd.hpp"
#include "engine/network_config.hpp"
#include "engine/port_spec.hpp"

namespace kiln::engine {

class NetworkLock {
 public:
  explicit NetworkLock(const std::string& run_root);  // blocks until granted

 private:
  UniqueFd fd_;
};

class Leases {
 public:
  explicit Leases(std::string run_root);

  // An address of the network for the container: `wanted`, or the lowest free one. Throws
  // "ip X is already in use by container Y", "ip X: not in subnet S", "network N: no free address".
  uint32_t lease_address(const NetworkConfig& network, const std::string& container_id,
                         std::optional<uint32_t> wanted) const;
  void release_address(const std::string& network, uint32_t ip, const std::string& container_id) const;
  // Who holds what on a network: (address, container id).
  std::vector<std::pair<uint32_t, std::string>> addresses(const std::string& network) const;

  // Reserves the host port (a free one when port.host_port is 0, filled in). Throws "publish
  // X: host port P is already in use" when a container or a host process has it.
  void lease_port(PortSpec& port, const std::string& container_id) const;
  void release_port(const PortSpec& port, const std::string& container_id) const;

 private:
  bool stale(const std::string& holder) const;
  std::string root_;
};

}  // namespace kiln::engine
