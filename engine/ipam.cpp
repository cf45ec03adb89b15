#include "engine/ipam.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>

#include "common/error.hpp"
#include "common/files.hpp"

namespace kiln::engine {

namespace {

// Creates path holding id; false when it exists already.
bool create_lease_file(const std::string& path, const std::string& id) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return false;
    throw_errno("create lease " + path);
  }
  UniqueFd owned(fd);
  write_all(fd, id, "lease " + path);
  return true;
}

std::string lease_holder(const std::string& path) {
  std::string s = read_file_if_exists(path).value_or("");
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

void unlink_lease_of(const std::string& path, const std::string& id) {
  if (lease_holder(path) == id) ::unlink(path.c_str());
}

// Whether a host process could bind the address and port now (nobody has it); port 0 asks the
// kernel for a free one, which is returned.
int bindable_port(const std::string& host_ip, uint16_t port, const std::string& protocol) {
  int fd = ::socket(AF_INET, (protocol == "udp" ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
  if (fd < 0) throw_errno("socket");
  UniqueFd owned(fd);
  struct sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_ANY);
  if (!host_ip.empty()) ::inet_pton(AF_INET, host_ip.c_str(), &a.sin_addr);
  if (::bind(fd, reinterpret_cast<struct sockaddr*>(&a), sizeof a) != 0) {
    if (errno == EADDRINUSE) return -1;
    if (errno == EADDRNOTAVAIL) throw Error("publish: host address " + host_ip + " is not an address of this host");
    throw_errno("bind " + host_ip + ":" + std::to_string(port));
  }
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<struct sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

}  // namespace

NetworkLock::NetworkLock(const std::string& run_root) {
  mkdir_p(run_root + "/networks", 0700);
  fd_ = open_file(run_root + "/networks/lock", O_RDWR | O_CREAT, 0600);
  while (::flock(fd_.get(), LOCK_EX) != 0)
    if (errno != EINTR) throw_errno("lock " + run_root + "/networks/lock");
}

Leases::Leases(std::string run_root) : root_(std::move(run_root)) {}

bool Leases::stale(const std::string& holder) const {
  return holder.empty() || holder.find('/') != std::string::npos || !path_exists(root_ + "/containers/" + holder);
}

uint32_t Leases::lease_address(const NetworkConfig& n, const std::string& id, std::optional<uint32_t> wanted) const {
  std::string dir = root_ + "/networks/" + n.name;
  mkdir_p(dir, 0700);
  auto try_take = [&](uint32_t ip) {
    std::string path = dir + "/" + format_ipv4(ip);
    if (create_lease_file(path, id)) return true;
    if (!stale(lease_holder(path))) return false;
    ::unlink(path.c_str());  // its container is gone (a crash): take it back
    return create_lease_file(path, id);
  };
  if (wanted) {
    std::string text = format_ipv4(*wanted);
    if (!n.subnet.contains(*wanted))
      throw Error("ip " + text + ": not in subnet " + n.subnet.str() + " of network " + n.name, EINVAL);
    if (*wanted == n.gateway || *wanted == n.subnet.network || *wanted == n.subnet.broadcast())
      throw Error("ip " + text + ": reserved in network " + n.name + " (network, gateway or broadcast address)",
                  EINVAL);
    if (!try_take(*wanted))
      throw Error("ip " + text + " is already in use by container " + lease_holder(dir + "/" + text).substr(0, 12),
                  EADDRINUSE);
    return *wanted;
  }
  for (uint32_t ip = n.subnet.first_host(); ip <= n.subnet.last_host(); ++ip) {
    if (ip == n.gateway) continue;
    if (try_take(ip)) return ip;
  }
  throw Error("network " + n.name + ": no free address left in " + n.subnet.str(), EADDRNOTAVAIL);
}

void Leases::release_address(const std::string& network, uint32_t ip, const std::string& id) const {
  unlink_lease_of(root_ + "/networks/" + network + "/" + format_ipv4(ip), id);
}

std::vector<std::pair<uint32_t, std::string>> Leases::addresses(const std::string& network) const {
  std::vector<std::pair<uint32_t, std::string>> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(root_ + "/networks/" + network, ec)) {
    auto ip = parse_ipv4(e.path().filename().string());
    if (ip) out.emplace_back(*ip, lease_holder(e.path().string()));
  }
  return out;
}

void Leases::lease_port(PortSpec& p, const std::string& id) const {
  std::string dir = root_ + "/ports";
  mkdir_p(dir, 0700);
  std::string shown = (p.host_ip.empty() ? "0.0.0.0" : p.host_ip) + ":";
  auto take = [&](uint16_t port) {
    std::string path = dir + "/" + p.protocol + "-" + std::to_string(port);
    if (create_lease_file(path, id)) return true;
    if (!stale(lease_holder(path))) return false;
    ::unlink(path.c_str());
    return create_lease_file(path, id);
  };
  if (p.host_port == 0) {
    for (int tries = 0; tries < 50; ++tries) {
      int port = bindable_port(p.host_ip, 0, p.protocol);
      if (port > 0 && take(static_cast<uint16_t>(port))) {
        p.host_port = static_cast<uint16_t>(port);
        return;
      }
    }
    throw Error("publish " + shown + ":" + std::to_string(p.container_port) + ": no free host port found");
  }
  std::string what = "publish " + shown + std::to_string(p.host_port) + ":" + std::to_string(p.container_port) + "/" +
                     p.protocol + ": host port " + std::to_string(p.host_port);
  if (!take(p.host_port)) {
    std::string holder = lease_holder(dir + "/" + p.protocol + "-" + std::to_string(p.host_port));
    throw Error(what + " is already in use by container " + holder.substr(0, 12), EADDRINUSE);
  }
  int free = -1;
  try {
    free = bindable_port(p.host_ip, p.host_port, p.protocol);
  } catch (...) {
    release_port(p, id);
    throw;
  }
  if (free < 0) {
    release_port(p, id);
    throw Error(what + " is already in use on the host", EADDRINUSE);
  }
}

void Leases::release_port(const PortSpec& p, const std::string& id) const {
  if (p.host_port == 0) return;
  unlink_lease_of(root_ + "/ports/" + p.protocol + "-" + std::to_string(p.host_port), id);
}

}  // namespace kiln::engine
