// The three files docker gives every container: /etc/hostname, /etc/hosts (localhost and the
// container's own name, so software that resolves its host name starts) and /etc/resolv.conf.
// They are made per container, in its own directory, and bind-mounted over the image's copies,
// which stay untouched (the image is read-only and shared).
#pragma once
#include <string>
#include <vector>

namespace kiln::engine {

struct EtcFile {
  std::string name;         // "hostname", "hosts", "resolv.conf"
  std::string destination;  // "/etc/hostname", ...
  std::string content;
};

struct EtcInputs {
  std::string hostname;  // the container's; with the host's network: the host's
  bool host_network = false;
  std::string host_hosts;  // the host's /etc/hosts and /etc/resolv.conf (host network)
  std::string host_resolv_conf;
  // A bridge network: the container's address and names go into /etc/hosts; with DNS servers
  // (aardvark-dns on user-created networks) resolv.conf names them, else it is the host's
  // without its loopback servers (unreachable from a container), as docker's default bridge.
  std::string ip;
  std::vector<std::string> names;  // container name, aliases (the hostname is always there)
  std::vector<std::string> dns_servers;
  std::vector<std::string> dns_search;
};

// What the network adds to the files (see EtcInputs); empty ip: no bridge network.
struct EtcNetwork {
  std::string ip;
  std::vector<std::string> names, dns_servers, dns_search;
  std::string copy_from;  // --network container:X: X's dir; its etc-hosts and etc-resolv.conf are used
};

// The host's resolv.conf without nameserver lines that point at the host's loopback.
std::string resolv_conf_without_loopback(const std::string& text);

// Pure: what the files hold.
std::vector<EtcFile> container_etc_files(const EtcInputs& in);

// Reads the host's files, writes each into dir/etc-NAME (0644) and returns them.
std::vector<EtcFile> write_container_etc_files(const std::string& dir, const std::string& hostname, bool host_network,
                                               const EtcNetwork& network = {});

}  // namespace kiln::engine
