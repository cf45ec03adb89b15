#include "engine/network_config.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>

#include "common/clock.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "engine/records.hpp"
#include "image/store_lock.hpp"

namespace kiln::engine {

using json = nlohmann::json;

namespace {

constexpr uint32_t kPoolBase = (10u << 24) | (77u << 16);  // 10.77.0.0

uint32_t parse_hex_route_field(const std::string& hex) {
  uint32_t v = static_cast<uint32_t>(std::stoul(hex, nullptr, 16));
  // /proc/net/route prints the address as it sits in memory (network byte order) in hex.
  return ((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >> 8) & 0xff00) | (v >> 24);
}

int mask_prefix(uint32_t mask) {
  int n = 0;
  while (n < 32 && (mask & (0x80000000u >> n))) ++n;
  return n;
}

}  // namespace

json network_to_json(const NetworkConfig& n) {
  return {{"name", n.name},           {"id", n.id},
          {"driver", "bridge"},       {"network_interface", n.bridge},
          {"subnet", n.subnet.str()}, {"gateway", format_ipv4(n.gateway)},
          {"internal", n.internal},   {"dns_enabled", n.dns_enabled},
          {"created", n.created}};
}

NetworkConfig network_from_json(const json& j) {
  NetworkConfig n;
  n.name = j.at("name").get<std::string>();
  n.id = j.at("id").get<std::string>();
  n.bridge = j.at("network_interface").get<std::string>();
  n.subnet = parse_cidr(j.at("subnet").get<std::string>());
  auto gw = parse_ipv4(j.at("gateway").get<std::string>());
  if (!gw) throw Error("network " + n.name + ": bad gateway");
  n.gateway = *gw;
  n.internal = j.value("internal", false);
  n.dns_enabled = j.value("dns_enabled", false);
  n.created = j.value("created", "");
  return n;
}

NetworkConfig default_network() {
  NetworkConfig n;
  n.name = kDefaultNetwork;
  // A fixed id: netavark names its firewall chains after it, so it must not change.
  n.id = "6b696c6e30000000000000000000000000000000000000000000000000000000";
  n.bridge = kDefaultBridge;
  n.subnet = Cidr{kPoolBase, 24};
  n.gateway = kPoolBase + 1;
  n.dns_enabled = false;  // as docker's default bridge and podman's default network
  return n;
}

void validate_network_name(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 64 && std::isalnum(static_cast<unsigned char>(name[0]));
  for (char c : name) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-');
  if (!ok)
    throw Error("network name \"" + name + "\": use letters, digits, '_', '.', '-' (starting with a letter or digit)",
                EINVAL);
  if (name == "none" || name == "host" || name == "bridge" || name.rfind("container", 0) == 0)
    throw Error("network name " + name + ": reserved", EINVAL);
}

std::vector<Cidr> host_routes() {
  std::vector<Cidr> out;
  std::string text = read_file_if_exists("/proc/net/route").value_or("");
  size_t pos = text.find('\n');  // header
  while (pos != std::string::npos && pos + 1 < text.size()) {
    size_t end = text.find('\n', pos + 1);
    std::string line = text.substr(pos + 1, end == std::string::npos ? std::string::npos : end - pos - 1);
    pos = end;
    std::vector<std::string> f;
    size_t i = 0;
    while (i < line.size()) {
      while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
      size_t s = i;
      while (i < line.size() && !std::isspace(static_cast<unsigned char>(line[i]))) ++i;
      if (i > s) f.push_back(line.substr(s, i - s));
    }
    if (f.size() < 8) continue;
    try {
      uint32_t dest = parse_hex_route_field(f[1]), mask = parse_hex_route_field(f[7]);
      int prefix = mask_prefix(mask);
      if (prefix == 0) continue;  // the default route overlaps everything
      out.push_back(Cidr{dest & mask, prefix});
    } catch (const std::exception&) {
    }
  }
  return out;
}

NetworkStore::NetworkStore(const std::string& store_root) : dir_(store_root + "/networks") { mkdir_p(dir_, 0700); }

std::optional<NetworkConfig> NetworkStore::find(const std::string& name) const {
  if (name == kDefaultNetwork) return default_network();
  if (name.empty() || name.find('/') != std::string::npos || name[0] == '.') return std::nullopt;
  auto text = read_file_if_exists(dir_ + "/" + name + ".json");
  if (!text) return std::nullopt;
  try {
    return network_from_json(json::parse(*text));
  } catch (const std::exception& e) {
    throw Error("network " + name + ": malformed definition: " + e.what());
  }
}

NetworkConfig NetworkStore::load(const std::string& name) const {
  auto n = find(name);
  if (!n) throw Error("network " + name + " not found", ENOENT);
  return *n;
}

std::vector<NetworkConfig> NetworkStore::list() const {
  std::vector<NetworkConfig> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir_, ec)) {
    std::string f = e.path().filename().string();
    if (f.size() <= 5 || f.compare(f.size() - 5, 5, ".json") != 0) continue;
    try {
      if (auto n = find(f.substr(0, f.size() - 5))) out.push_back(*n);
    } catch (const Error&) {
    }
  }
  std::sort(out.begin(), out.end(), [](const NetworkConfig& a, const NetworkConfig& b) { return a.name < b.name; });
  out.insert(out.begin(), default_network());
  return out;
}

NetworkConfig NetworkStore::create(const NetworkCreateRequest& r) const {
  validate_network_name(r.name);
  image::StoreLock lock(dir_ + "/lock", image::StoreLock::Mode::exclusive);
  if (find(r.name)) throw Error("network " + r.name + " already exists", EEXIST);
  std::vector<NetworkConfig> existing = list();
  auto used_by = [&](const Cidr& c) -> std::string {
    for (const auto& n : existing)
      if (overlaps(n.subnet, c)) return "network " + n.name + " (" + n.subnet.str() + ")";
    for (const auto& h : host_routes())
      if (overlaps(h, c)) return "a route of the host (" + h.str() + ")";
    return "";
  };
  NetworkConfig n;
  n.name = r.name;
  n.id = RunRecords::new_id();
  n.internal = r.internal;
  n.dns_enabled = true;
  n.created = now_rfc3339();
  if (!r.subnet.empty()) {
    n.subnet = parse_cidr(r.subnet);
    std::string other = used_by(n.subnet);
    if (!other.empty()) throw Error("subnet " + r.subnet + " overlaps " + other, EEXIST);
  } else {
    bool found = false;
    for (uint32_t i = 1; i < 256 && !found; ++i) {
      Cidr c{kPoolBase | (i << 8), 24};
      if (used_by(c).empty()) {
        n.subnet = c;
        found = true;
      }
    }
    if (!found) throw Error("network " + r.name + ": no free subnet left in 10.77.0.0/16: give --subnet");
  }
  if (!r.gateway.empty()) {
    auto gw = parse_ipv4(r.gateway);
    if (!gw) throw Error("gateway " + r.gateway + ": not an IPv4 address", EINVAL);
    if (!n.subnet.contains(*gw) || *gw == n.subnet.network || *gw == n.subnet.broadcast())
      throw Error("gateway " + r.gateway + ": not a host address of subnet " + n.subnet.str(), EINVAL);
    n.gateway = *gw;
  } else {
    n.gateway = n.subnet.first_host();
  }
  // Bridge names: kiln1, kiln2, ... (at most 15 characters), not used by another network or
  // by an interface the host already has.
  std::set<std::string> bridges;
  for (const auto& e : existing) bridges.insert(e.bridge);
  for (int i = 1;; ++i) {
    std::string b = "kiln" + std::to_string(i);
    if (!bridges.count(b) && !path_exists("/sys/class/net/" + b)) {
      n.bridge = b;
      break;
    }
  }
  write_file_atomic(dir_ + "/" + n.name + ".json", network_to_json(n).dump(2), 0600);
  return n;
}

void NetworkStore::remove(const std::string& name) const {
  if (name == kDefaultNetwork) throw Error("network " + name + ": the default network cannot be removed", EPERM);
  load(name);
  image::StoreLock lock(dir_ + "/lock", image::StoreLock::Mode::exclusive);
  if (::unlink((dir_ + "/" + name + ".json").c_str()) != 0 && errno != ENOENT) throw_errno("remove network " + name);
}

}  // namespace kiln::engine
