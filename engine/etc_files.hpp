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
};

// Pure: what the files hold.
std::vector<EtcFile> container_etc_files(const EtcInputs& in);

// Reads the host's files, writes each into dir/etc-NAME (0644) and returns them.
std::vector<EtcFile> write_container_etc_files(const std::string& dir, const std::string& hostname, bool host_network);

}  // namespace kiln::engine
