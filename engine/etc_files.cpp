#include "engine/etc_files.hpp"

#include <unistd.h>

#include <climits>

#include "common/files.hpp"

namespace kiln::engine {

std::vector<EtcFile> container_etc_files(const EtcInputs& in) {
  std::string hosts;
  if (in.host_network && !in.host_hosts.empty()) {
    hosts = in.host_hosts;  // the host's names resolve as on the host
  } else {
    hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";
    if (!in.hostname.empty() && in.hostname != "localhost") hosts += "127.0.1.1\t" + in.hostname + "\n";
  }
  if (!hosts.empty() && hosts.back() != '\n') hosts += '\n';
  // No network: no name server to ask. An empty file makes resolvers fail at once (they would
  // otherwise try 127.0.0.1:53) rather than time out on the host's unreachable servers.
  std::string resolv = in.host_network ? in.host_resolv_conf : "# kiln: no network (--network none)\n";
  return {{"hostname", "/etc/hostname", in.hostname.empty() ? "" : in.hostname + "\n"},
          {"hosts", "/etc/hosts", hosts},
          {"resolv.conf", "/etc/resolv.conf", resolv}};
}

std::vector<EtcFile> write_container_etc_files(const std::string& dir, const std::string& hostname, bool host_network) {
  EtcInputs in;
  in.hostname = hostname;
  in.host_network = host_network;
  if (host_network) {
    if (in.hostname.empty()) {
      char name[HOST_NAME_MAX + 1] = {};
      if (::gethostname(name, sizeof name - 1) == 0) in.hostname = name;
    }
    in.host_hosts = read_file_if_exists("/etc/hosts").value_or("");
    in.host_resolv_conf = read_file_if_exists("/etc/resolv.conf").value_or("");
  }
  std::vector<EtcFile> files = container_etc_files(in);
  for (const auto& f : files) write_file_atomic(dir + "/etc-" + f.name, f.content, 0644, Sync::in_memory);
  return files;
}

}  // namespace kiln::engine
