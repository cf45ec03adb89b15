#include "engine/container_network.hpp"

#include <fcntl.h>
#include <sched.h>
#include <spdlog/spdlog.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cctype>
#include <cstring>
#include <thread>

#include "common/error.hpp"
#include "common/failpoint.hpp"
#include "common/files.hpp"
#include "common/user_namespace.hpp"
#include "engine/ipam.hpp"
#include "engine/ipv4.hpp"
#include "engine/netavark.hpp"
#include "engine/pasta.hpp"
#include "runtime/state.hpp"

namespace kiln::engine {

using json = nlohmann::json;

namespace {

std::string netavark_config_dir(const RunRecords& records) { return records.run_root() + "/netavark"; }
std::string network_state_path(const RunRecords& records, const std::string& id) {
  return records.dir(id) + "/network.json";
}
std::string netavark_input_path(const RunRecords& records, const std::string& id) {
  return records.dir(id) + "/netavark.json";
}

// An empty network namespace, kept alive by a bind mount on path. unshare() in a thread of its
// own: only that thread moves, kiln stays in the host's namespace.
void make_netns(const std::string& path) {
  write_file(path, "", 0444);
  int err = 0;
  const char* what = "";
  std::thread t([&] {
    if (::unshare(CLONE_NEWNET) != 0) {
      err = errno;
      what = "unshare(CLONE_NEWNET)";
    } else if (::mount("/proc/thread-self/ns/net", path.c_str(), nullptr, MS_BIND, nullptr) != 0) {
      err = errno;
      what = "bind-mount the network namespace";
    }
  });
  t.join();
  if (err != 0) {
    ::unlink(path.c_str());
    throw_errno(std::string(what) + " on " + path, err);
  }
}

void remove_netns(const std::string& path) {
  if (path.empty()) return;
  if (::umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
    spdlog::warn("unmount network namespace {}: {}", path, std::strerror(errno));
  ::unlink(path.c_str());
}

json port_json(const PortSpec& p) {
  return {{"HostIp", p.host_ip.empty() ? "0.0.0.0" : p.host_ip},
          {"HostPort", p.host_port},
          {"ContainerPort", p.container_port},
          {"Protocol", p.protocol}};
}

// The other container's namespace: its own network.json's, else its init's.
std::string other_netns(const RunRecords& records, const RunRecord& other) {
  auto text = read_file_if_exists(network_state_path(records, other.id));
  if (text) {
    json st = json::parse(*text, nullptr, false);
    if (st.is_object() && !st.value("netns", "").empty() && path_exists(st.value("netns", "")))
      return st.value("netns", "");
  }
  runtime::StateDir sd(records.runtime_root(), other.id);
  if (!sd.exists() || !records.status(other).process_alive)
    throw Error("network container:" + other.name + ": that container is not running");
  return "/proc/" + std::to_string(sd.load().pid) + "/ns/net";
}

// What attach is about to make, written to the container's network.json before it is made, so
// that detach_network can undo it after a SIGKILL.
class AttachJournal {
 public:
  AttachJournal(const RunRecords& records, const std::string& id, const std::string& network)
      : path_(network_state_path(records, id)), state_({{"network", network}, {"ports", json::array()}}) {
    save();
  }
  void set(const char* key, json value) {
    state_[key] = std::move(value);
    save();
  }
  // Each host port is leased (a free one picked for port 0), then written down.
  void lease_ports(const Leases& leases, std::vector<PortSpec>& ports, const std::string& id) {
    for (auto& p : ports) {
      leases.lease_port(p, id);
      state_["ports"].push_back(port_json(p));
      save();
    }
  }

 private:
  void save() const { write_file_atomic(path_, state_.dump(), 0600, Sync::in_memory); }
  std::string path_;
  json state_;
};

// <run_root>/netns/<id>: where the container's namespace is bind-mounted.
std::string netns_path(const RunRecords& records, const std::string& id) {
  std::string dir = records.run_root() + "/netns";
  mkdir_p(dir, 0700);
  return dir + "/" + id;
}

// Rootless bridges live in one network namespace of the session's (podman's rootless netns):
// netavark makes the bridges, veths, rules and DNS there, and pasta gives it (and so the
// containers, through the bridge's NAT) the way out. Made by the first container on a bridge,
// removed with the last one.
std::string rootless_bridge_netns(const RunRecords& records) { return netns_path(records, "bridges"); }

std::string ensure_rootless_bridge_netns(const RunRecords& records) {
  const std::string path = rootless_bridge_netns(records);
  if (path_exists(path + ".ready")) return path;
  remove_netns(path);  // half-made by a command that died
  ::unlink((path + ".pasta.pid").c_str());
  make_netns(path);
  pasta_setup(path, {}, path + ".pasta.pid");
  write_file(path + ".ready", "", 0600);
  return path;
}

// With no container left on a rootless bridge, the session's bridge namespace goes too.
void remove_rootless_bridge_netns_if_unused(const RunRecords& records) {
  const std::string path = rootless_bridge_netns(records);
  if (!path_exists(path)) return;
  for (const auto& r : records.list()) {
    auto text = read_file_if_exists(network_state_path(records, r.id));
    if (!text) continue;
    json st = json::parse(*text, nullptr, false);
    if (st.is_object() && st.value("host_netns", "") == path) return;
  }
  pasta_teardown(path + ".pasta.pid");
  ::unlink((path + ".ready").c_str());
  remove_netns(path);
}

// pasta: host ports leased like a bridge's, a namespace of its own, pasta attached to it. The
// undo is written down first, as for a bridge (detach_network reads it).
NetworkAttachment attach_pasta(const RunRecords& records, const std::string& id, const NetworkPlan& plan) {
  NetworkAttachment a;
  a.network = "pasta";
  a.ports = plan.ports;
  try {
    NetworkLock lock(records.run_root());
    Leases leases(records.run_root());
    AttachJournal journal(records, id, "pasta");
    journal.lease_ports(leases, a.ports, id);
    a.netns = netns_path(records, id);
    journal.set("netns", a.netns);
    journal.set("pasta_pid_file", a.netns + ".pasta.pid");
    make_netns(a.netns);
    pasta_setup(a.netns, a.ports, a.netns + ".pasta.pid");
  } catch (...) {
    detach_network(records, id);
    throw;
  }
  return a;
}

}  // namespace

NetworkPlan plan_network(const NetworkRequest& r, const std::string& store_root, const RunRecords& records) {
  NetworkPlan plan;
  const std::string& m = r.mode;
  const bool rootless = !in_initial_user_namespace();
  if (m == "none") plan.kind = NetworkPlan::Kind::none;
  else if (m == "host") plan.kind = NetworkPlan::Kind::host;
  else if (m == "pasta" || (rootless && m == kDefaultNetwork)) plan.kind = NetworkPlan::Kind::pasta;
  else if (m.rfind("container:", 0) == 0) {
    plan.kind = NetworkPlan::Kind::container;
    std::string ref = m.substr(10);
    if (ref.empty()) throw Error("network " + m + ": name a container (container:NAME)", EINVAL);
    plan.container_id = with_context("network " + m, [&] { return records.resolve(ref); });
  } else {
    plan.kind = NetworkPlan::Kind::bridge;
    if (m.empty()) throw Error("network: empty name", EINVAL);
    if (rootless && !r.publish.empty())
      throw Error("network " + m +
                      ": -p on a bridge network needs root; a rootless container publishes ports on "
                      "the default network (pasta)",
                  EPERM);
    NetworkStore store(store_root);
    auto n = store.find(m);
    if (!n)
      throw Error("network " + m + " not found (create it with kiln network create, or use none or host)", ENOENT);
    plan.network = *n;
  }
  bool bridge = plan.kind == NetworkPlan::Kind::bridge;
  if (!r.publish.empty() && !bridge && plan.kind != NetworkPlan::Kind::pasta)
    throw Error("publish " + r.publish.front() + ": ports cannot be published with --network " + m, EINVAL);
  if (!r.ip.empty() && !bridge) throw Error("ip " + r.ip + ": needs a bridge network, not --network " + m, EINVAL);
  if (!r.aliases.empty() && !bridge)
    throw Error("network-alias " + r.aliases.front() + ": needs a bridge network, not --network " + m, EINVAL);
  if (!r.ip.empty()) {
    auto ip = parse_ipv4(r.ip);
    if (!ip) throw Error("ip " + r.ip + ": not an IPv4 address", EINVAL);
    const Cidr& s = plan.network.subnet;
    if (!s.contains(*ip))
      throw Error("ip " + r.ip + ": not in subnet " + s.str() + " of network " + plan.network.name, EINVAL);
    if (*ip == plan.network.gateway || *ip == s.network || *ip == s.broadcast())
      throw Error("ip " + r.ip + ": reserved in network " + plan.network.name, EINVAL);
    plan.ip = ip;
  }
  for (const auto& a : r.aliases) {
    bool ok = !a.empty() && a.size() <= 253;
    for (char c : a) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_');
    if (!ok) throw Error("network-alias \"" + a + "\": use letters, digits, '-', '.', '_'", EINVAL);
    plan.aliases.push_back(a);
  }
  for (const auto& p : r.publish) {
    PortSpec spec = parse_port_spec(p);
    for (const auto& q : plan.ports)
      if (q.host_port != 0 && q.host_port == spec.host_port && q.protocol == spec.protocol)
        throw Error("publish " + p + ": host port " + std::to_string(spec.host_port) + " given twice", EINVAL);
    plan.ports.push_back(spec);
  }
  return plan;
}

json network_settings_json(const NetworkPlan& plan, const NetworkAttachment& a) {
  json s = json::object();
  switch (plan.kind) {
    case NetworkPlan::Kind::none: s["NetworkMode"] = "none"; break;
    case NetworkPlan::Kind::host: s["NetworkMode"] = "host"; break;
    case NetworkPlan::Kind::container: s["NetworkMode"] = "container:" + plan.container_id; break;
    case NetworkPlan::Kind::bridge: s["NetworkMode"] = plan.network.name; break;
    case NetworkPlan::Kind::pasta: s["NetworkMode"] = "pasta"; break;
  }
  json nets = json::object();
  if (plan.kind == NetworkPlan::Kind::bridge)
    nets[a.network] = {{"NetworkID", plan.network.id}, {"Bridge", plan.network.bridge}, {"IPAddress", a.ip},
                       {"IPPrefixLen", a.prefix},      {"Gateway", a.gateway},          {"MacAddress", a.mac},
                       {"Aliases", a.aliases}};
  s["Networks"] = nets;
  json ports = json::array();
  for (const auto& p : a.ports) ports.push_back(port_json(p));
  s["Ports"] = ports;
  return s;
}

std::vector<PortSpec> ports_from_settings(const json& s) {
  std::vector<PortSpec> out;
  if (!s.is_object() || !s.contains("Ports")) return out;
  for (const auto& p : s["Ports"]) {
    PortSpec q;
    q.host_ip = p.value("HostIp", "");
    if (q.host_ip == "0.0.0.0") q.host_ip.clear();
    q.host_port = p.value("HostPort", uint16_t{0});
    q.container_port = p.value("ContainerPort", uint16_t{0});
    q.protocol = p.value("Protocol", "tcp");
    out.push_back(q);
  }
  return out;
}

NetworkAttachment attach_network(const RunRecords& records, const RunRecord& rec, const NetworkPlan& plan,
                                 const std::string& hostname) {
  NetworkAttachment a;
  if (plan.kind == NetworkPlan::Kind::none || plan.kind == NetworkPlan::Kind::host) return a;
  if (plan.kind == NetworkPlan::Kind::container) {
    RunRecord other = records.load(plan.container_id);
    a.netns = other_netns(records, other);
    a.etc_from = records.dir(other.id);
    return a;
  }
  if (plan.kind == NetworkPlan::Kind::pasta) return attach_pasta(records, rec.id, plan);
  const NetworkConfig& n = plan.network;
  const std::string& id = rec.id;
  a.network = n.name;
  a.gateway = format_ipv4(n.gateway);
  a.prefix = n.subnet.prefix;
  // DNS names on the network: the name, the host name, the aliases (aardvark-dns).
  a.aliases = {rec.name};
  if (!hostname.empty() && hostname != rec.name) a.aliases.push_back(hostname);
  for (const auto& al : plan.aliases) a.aliases.push_back(al);
  a.ports = plan.ports;

  try {
    NetworkLock lock(records.run_root());
    Leases leases(records.run_root());
    AttachJournal journal(records, id, n.name);
    uint32_t ip = leases.lease_address(n, id, plan.ip);
    journal.set("ip", format_ipv4(ip));
    a.ip = format_ipv4(ip);
    KILN_FAILPOINT("net-after-lease");
    journal.lease_ports(leases, a.ports, id);
    a.netns = netns_path(records, id);
    journal.set("netns", a.netns);
    make_netns(a.netns);
    KILN_FAILPOINT("net-after-netns");
    std::string host_netns;
    if (!in_initial_user_namespace()) {
      journal.set("host_netns", rootless_bridge_netns(records));
      host_netns = ensure_rootless_bridge_netns(records);
    }
    NetavarkContainer c{id, rec.name, n, ip, a.aliases, a.ports};
    write_file_atomic(netavark_input_path(records, id), netavark_options(c).dump(), 0600, Sync::in_memory);
    journal.set("netavark", true);
    std::string config = netavark_config_dir(records);
    mkdir_p(config, 0700);
    spdlog::debug("network {}: container {} gets {} in {}", n.name, id.substr(0, 12), a.ip, a.netns);
    NetavarkResult res = netavark_setup(config, a.netns, netavark_input_path(records, id), n.name, host_netns);
    spdlog::debug("network {}: container {} set up (mac {})", n.name, id.substr(0, 12), res.mac);
    KILN_FAILPOINT("net-after-setup");
    a.mac = res.mac;
    a.dns_servers = res.dns_servers;
    a.dns_search = res.dns_search;
  } catch (...) {
    detach_network(records, id);  // the lock was released on the way out of the try block
    throw;
  }
  return a;
}

void detach_network(const RunRecords& records, const std::string& id) {
  const std::string state_path = network_state_path(records, id);
  if (!path_exists(state_path)) return;
  try {
    NetworkLock lock(records.run_root());
    auto text = read_file_if_exists(state_path);
    if (!text) return;  // another command finished it while we waited
    json st = json::parse(*text, nullptr, false);
    if (!st.is_object()) st = json::object();
    std::string netns = st.value("netns", "");
    std::string input = netavark_input_path(records, id);
    if (st.value("netavark", false) && path_exists(input) && !netns.empty() && path_exists(netns)) {
      try {
        netavark_teardown(netavark_config_dir(records), netns, input, st.value("host_netns", ""));
      } catch (const Error& e) {
        // Half-made (a setup that failed): netavark removed what it made; log and go on.
        spdlog::debug("container {}: {}", id, e.what());
      }
    }
    if (!st.value("pasta_pid_file", "").empty()) pasta_teardown(st.value("pasta_pid_file", ""));
    remove_netns(netns);
    spdlog::debug("network {}: container {} torn down", st.value("network", ""), id.substr(0, 12));
    Leases leases(records.run_root());
    for (const auto& p : ports_from_settings(json{{"Ports", st.value("ports", json::array())}}))
      leases.release_port(p, id);
    if (auto ip = parse_ipv4(st.value("ip", ""))) leases.release_address(st.value("network", ""), *ip, id);
    ::unlink(input.c_str());
    ::unlink(state_path.c_str());
    if (!st.value("host_netns", "").empty()) remove_rootless_bridge_netns_if_unused(records);
  } catch (const std::exception& e) {
    spdlog::warn("container {}: network teardown: {}", id, e.what());
  }
}

std::vector<AttachedContainer> network_containers(const RunRecords& records, const std::string& name) {
  std::vector<AttachedContainer> out;
  for (const auto& r : records.list()) {
    const json& s = r.extra.value("NetworkSettings", json::object());
    if (!s.is_object() || !s.contains("Networks") || !s["Networks"].contains(name)) continue;
    out.push_back({r.id, r.name, s["Networks"][name].value("IPAddress", "")});
  }
  return out;
}

void remove_network(const std::string& store_root, const RunRecords& records, const std::string& name) {
  NetworkStore store(store_root);
  store.load(name);  // "network NAME not found"
  auto users = network_containers(records, name);
  Leases leases(records.run_root());
  for (const auto& [ip, holder] : leases.addresses(name))
    if (path_exists(records.dir(holder))) users.push_back({holder, holder.substr(0, 12), format_ipv4(ip)});
  if (!users.empty())
    throw Error("network " + name + " is in use by container " + users.front().name + " (remove it first)", EBUSY);
  store.remove(name);
  remove_tree(records.run_root() + "/networks/" + name);
}

}  // namespace kiln::engine
