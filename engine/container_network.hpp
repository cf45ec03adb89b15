// A `kiln run` container's network, from the flags to teardown.
//
//   none            a network namespace of its own with only lo (the sandbox choice)
//   host            the host's namespace
//   container:OTHER OTHER's namespace (and its /etc/hosts, /etc/resolv.conf)
//   pasta           user-mode networking (engine/pasta.hpp): the default for a rootless user,
//                   whose kiln cannot make bridges or firewall rules; -p publishes through it
//   NAME (default: kiln, the default bridge network) a veth on the network's bridge, an address
//                   from kiln's leases, NAT out unless --internal, published ports, and on
//                   user-created networks the container's names in aardvark-dns
//
// How a bridge container is set up (podman's order): the namespace is made first, empty, and
// bind-mounted at <run_root>/netns/<id>; netavark configures it; then the OCI runtime creates
// the container INTO it (linux.namespaces path), so the user's process never runs without its
// network, and the namespace outlives a killed monitor, so teardown can always run. What is
// about to be made is written to <container record>/network.json before it is made: the undo
// survives SIGKILL. Teardown (the container exited, rm, --rm, a failed start, a dead monitor
// found by the next command) is idempotent.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/network_config.hpp"
#include "engine/port_spec.hpp"
#include "engine/records.hpp"

namespace kiln::engine {

struct NetworkRequest {
  std::string mode = kDefaultNetwork;  // none | host | container:REF | a network's name
  std::string ip;                      // --ip
  std::vector<std::string> aliases;    // --network-alias
  std::vector<std::string> publish;    // -p
};

struct NetworkPlan {
  enum class Kind { none, host, container, bridge, pasta };
  Kind kind = Kind::none;
  NetworkConfig network;     // bridge
  std::string container_id;  // container: the other one
  std::optional<uint32_t> ip;
  std::vector<std::string> aliases;
  std::vector<PortSpec> ports;
};

// Everything that can be checked before anything is made: the mode, the network exists, --ip
// is in its subnet, -p parses and is not combined with none/host/container:. Throws one line
// naming the bad value.
NetworkPlan plan_network(const NetworkRequest& request, const std::string& store_root, const RunRecords& records);

struct NetworkAttachment {
  std::string netns;     // the namespace the container joins ("" none/host: its own / the host's)
  std::string etc_from;  // container: the other container's dir, holding etc-hosts, etc-resolv.conf
  std::string network;
  std::string ip, gateway, mac;
  int prefix = 0;
  std::vector<std::string> aliases;
  std::vector<std::string> dns_servers, dns_search;
  std::vector<PortSpec> ports;  // host ports chosen
};

// What `kiln inspect` shows (NetworkSettings) and what `kiln port`/`ps` read back.
nlohmann::json network_settings_json(const NetworkPlan& plan, const NetworkAttachment& a);
std::vector<PortSpec> ports_from_settings(const nlohmann::json& settings);

// Bridge: leases the address and host ports, makes the namespace, runs netavark. Other kinds:
// resolves the namespace to join. On failure nothing is left (it undoes itself) and it throws.
NetworkAttachment attach_network(const RunRecords& records, const RunRecord& record, const NetworkPlan& plan,
                                 const std::string& hostname);
// Undoes attach_network from the container's network.json; idempotent, never throws (logs).
void detach_network(const RunRecords& records, const std::string& id);

// `kiln network rm`: refused while a container (running or not) is attached.
void remove_network(const std::string& store_root, const RunRecords& records, const std::string& name);
// The containers attached to a network (for `network inspect`): id, name, address.
struct AttachedContainer {
  std::string id, name, ip;
};
std::vector<AttachedContainer> network_containers(const RunRecords& records, const std::string& name);

}  // namespace kiln::engine
