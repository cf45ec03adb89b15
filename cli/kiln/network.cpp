// kiln network create NAME [--subnet CIDR] [--gateway IP] [--internal]
// kiln network ls | inspect NAME... | rm NAME...
// Definitions live in the store (engine/network_config.hpp); the default network `kiln` always
// exists. rm is refused while a container is attached.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/command_registry.hpp"
#include "common/error.hpp"
#include "engine/container_network.hpp"
#include "engine/network_config.hpp"
#include "engine/records.hpp"

namespace {

struct State {
  kiln::engine::NetworkCreateRequest create;
  std::vector<std::string> names;
  bool quiet = false;
};

nlohmann::json inspect_json(const kiln::engine::NetworkConfig& n, const kiln::engine::RunRecords& records) {
  nlohmann::json containers = nlohmann::json::object();
  for (const auto& c : kiln::engine::network_containers(records, n.name))
    containers[c.id] = {{"Name", c.name}, {"IPAddress", c.ip}};
  return {{"Name", n.name},           {"Id", n.id},
          {"Driver", "bridge"},       {"Bridge", n.bridge},
          {"Subnet", n.subnet.str()}, {"Gateway", kiln::engine::format_ipv4(n.gateway)},
          {"Internal", n.internal},   {"DNSEnabled", n.dns_enabled},
          {"Created", n.created},     {"Containers", containers}};
}

int run_network(const State& s, const kiln::cli::Command& c, const kiln::cli::Command& l, const kiln::cli::Command& i,
                const kiln::cli::Command& r) {
  namespace en = kiln::engine;
  const std::string& root = kiln::cli::globals().root;
  en::NetworkStore store(root);
  if (c.parsed()) {
    en::NetworkConfig n = store.create(s.create);
    std::printf("%s\n", n.name.c_str());
    return 0;
  }
  if (l.parsed()) {
    auto all = store.list();
    if (!s.quiet) std::printf("%-12s  %-24s  %-8s  %-18s  %s\n", "NETWORK ID", "NAME", "BRIDGE", "SUBNET", "OPTIONS");
    for (const auto& n : all) {
      if (s.quiet) {
        std::printf("%s\n", n.name.c_str());
        continue;
      }
      std::string opts = n.internal ? "internal" : "";
      if (n.dns_enabled) opts += opts.empty() ? "dns" : ",dns";
      std::printf("%-12s  %-24s  %-8s  %-18s  %s\n", n.id.substr(0, 12).c_str(), n.name.c_str(), n.bridge.c_str(),
                  n.subnet.str().c_str(), opts.c_str());
    }
    return 0;
  }
  en::RunRecords records(en::default_run_root());
  if (i.parsed()) {
    auto out = nlohmann::json::array();
    for (const auto& name : s.names) out.push_back(inspect_json(store.load(name), records));
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  if (r.parsed()) {
    for (const auto& name : s.names) {
      en::remove_network(root, records, name);
      std::printf("%s\n", name.c_str());
    }
    return 0;
  }
  return 125;
}

kiln::cli::RegisterCommand reg("network", "Manage networks", [](kiln::cli::Command& sub) -> kiln::cli::Action {
  auto s = std::make_shared<State>();
  sub.require_subcommand(1);
  kiln::cli::Command c = sub.add_subcommand("create", "Create a bridge network");
  c.add_option("NAME", s->create.name, "[A-Za-z0-9][A-Za-z0-9_.-]{0,63}").required();
  c.add_option("--subnet", s->create.subnet, "IPv4 subnet (default: the first free 10.77.N.0/24)");
  c.add_option("--gateway", s->create.gateway, "gateway address (default: the subnet's first)");
  c.add_flag("--internal", s->create.internal, "no route out of the bridge");
  kiln::cli::Command l = sub.add_subcommand("ls", "List networks");
  l.alias("list");
  l.add_flag("-q,--quiet", s->quiet, "names only");
  kiln::cli::Command i = sub.add_subcommand("inspect", "Show networks and their containers as JSON");
  i.add_option("NAME", s->names).required();
  kiln::cli::Command r = sub.add_subcommand("rm", "Remove networks (refused while containers use them)");
  r.alias("remove");
  r.add_option("NAME", s->names).required();
  return [s, c, l, i, r] { return run_network(*s, c, l, i, r); };
});

}  // namespace
