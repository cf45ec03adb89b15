#include "engine/etc_files.hpp"

#include <unistd.h>

#include <algorithm>
#include <climits>

#include "common/files.hpp"

namespace kiln::engine {

std::vector<EtcFile> container_etc_files(const EtcInputs& in) {
  std::string hosts;
  if (in.host_network && !in.host_hosts.empty()) {
    hosts = in.host_hosts;  // the host's names resolve as on the host
  } else {
    hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";
    if (!in.ip.empty()) {
      std::string line = in.ip;
      std::vector<std::string> seen;
      auto add = [&](const std::string& n) {
        if (n.empty() || n == "localhost" || std::find(seen.begin(), seen.end(), n) != seen.end()) return;
        seen.push_back(n);
        line += "\t" + n;
      };
      add(in.hostname);
      for (const auto& n : in.names) add(n);
      if (!seen.empty()) hosts += line + "\n";
    } else if (!in.hostname.empty() && in.hostname != "localhost") {
      hosts += "127.0.1.1\t" + in.hostname + "\n";
    }
  }
  if (!hosts.empty() && hosts.back() != '\n') hosts += '\n';
  // No network: no name server to ask. An empty file makes resolvers fail at once (they would
  // otherwise try 127.0.0.1:53) rather than time out on the host's unreachable servers.
  std::string resolv = in.host_network ? in.host_resolv_conf : "# kiln: no network (--network none)\n";
  if (!in.ip.empty()) {
    if (!in.dns_servers.empty()) {
      resolv = "# kiln: the network's DNS server (container names, then the host's servers)\n";
      if (!in.dns_search.empty()) {
        resolv += "search";
        for (const auto& s : in.dns_search) resolv += " " + s;
        resolv += "\n";
      }
      for (const auto& s : in.dns_servers) resolv += "nameserver " + s + "\n";
    } else {
      resolv = resolv_conf_without_loopback(in.host_resolv_conf);
    }
  }
  return {{"hostname", "/etc/hostname", in.hostname.empty() ? "" : in.hostname + "\n"},
          {"hosts", "/etc/hosts", hosts},
          {"resolv.conf", "/etc/resolv.conf", resolv}};
}

std::string resolv_conf_without_loopback(const std::string& text) {
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? text.size() : nl + 1;
    size_t s = line.find_first_not_of(" \t");
    if (s != std::string::npos && line.compare(s, 10, "nameserver") == 0) {
      std::string addr = line.substr(s + 10);
      size_t a = addr.find_first_not_of(" \t");
      addr = a == std::string::npos ? "" : addr.substr(a);
      if (addr.rfind("127.", 0) == 0 || addr.rfind("::1", 0) == 0) continue;
    }
    out += line + "\n";
  }
  return out;
}

std::vector<EtcFile> write_container_etc_files(const std::string& dir, const std::string& hostname, bool host_network,
                                               const EtcNetwork& network) {
  EtcInputs in;
  in.ip = network.ip;
  in.names = network.names;
  in.dns_servers = network.dns_servers;
  in.dns_search = network.dns_search;
  in.hostname = hostname;
  in.host_network = host_network;
  if (host_network) {
    if (in.hostname.empty()) {
      char name[HOST_NAME_MAX + 1] = {};
      if (::gethostname(name, sizeof name - 1) == 0) in.hostname = name;
    }
    in.host_hosts = read_file_if_exists("/etc/hosts").value_or("");
    in.host_resolv_conf = read_file_if_exists("/etc/resolv.conf").value_or("");
  } else if (!network.ip.empty() && network.dns_servers.empty()) {
    in.host_resolv_conf = read_file_if_exists("/etc/resolv.conf").value_or("");
  }
  std::vector<EtcFile> files = container_etc_files(in);
  if (!network.copy_from.empty()) {
    for (auto& f : files)
      if (f.name != "hostname")
        f.content = read_file_if_exists(network.copy_from + "/etc-" + f.name).value_or(f.content);
  }
  for (const auto& f : files) write_file_atomic(dir + "/etc-" + f.name, f.content, 0644, Sync::in_memory);
  return files;
}

}  // namespace kiln::engine
