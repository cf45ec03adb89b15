#include "engine/pasta.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "common/error.hpp"
#include "common/files.hpp"
#include "common/process.hpp"
#include "common/user_namespace.hpp"

namespace kiln::engine {
namespace {

// "-t [ADDR/]HOST:CONTAINER" (-u for udp).
std::string pasta_port_arg(const PortSpec& p) {
  std::string s;
  if (!p.host_ip.empty() && p.host_ip != "0.0.0.0") s = p.host_ip + "/";
  return s + std::to_string(p.host_port) + ":" + std::to_string(p.container_port);
}

}  // namespace

std::optional<std::string> find_pasta() {
  for (const char* p : {"/usr/bin/pasta", "/usr/local/bin/pasta", "/bin/pasta"})
    if (::access(p, X_OK) == 0) return std::string(p);
  return std::nullopt;
}

void pasta_setup(const std::string& netns, const std::vector<PortSpec>& ports, const std::string& pid_file) {
  auto pasta = find_pasta();
  if (!pasta)
    throw Error("network pasta: pasta is not installed (Debian's passt package), or use --network none", ENOENT);
  std::vector<std::string> args = {*pasta, "--config-net", "--quiet", "--pid", pid_file};
  // As root pasta would switch to nobody, who may not open the namespace kiln made.
  if (::geteuid() == 0 && in_initial_user_namespace()) args.insert(args.end(), {"--runas", "0:0"});
  bool tcp = false, udp = false;
  for (const auto& p : ports) {
    const bool is_udp = p.protocol == "udp";
    args.push_back(is_udp ? "-u" : "-t");
    args.push_back(pasta_port_arg(p));
    (is_udp ? udp : tcp) = true;
  }
  // No automatic forwarding: only what -p publishes, and nothing from the namespace to the host.
  if (!tcp) args.insert(args.end(), {"-t", "none"});
  if (!udp) args.insert(args.end(), {"-u", "none"});
  args.insert(args.end(), {"-T", "none", "-U", "none", "--netns", netns});
  // pasta forks its daemon once the namespace is configured and the ports are bound, then
  // exits: its status says whether that worked.
  DaemonStart started = start_daemon(args);
  if (started.ok) return;
  // Its reasons, one per line, between complaints that it has no syslog to write to.
  const std::string& all = started.output;
  std::string text;
  size_t at = 0;
  while (at < all.size()) {
    size_t nl = all.find('\n', at);
    std::string line = all.substr(at, nl == std::string::npos ? std::string::npos : nl - at);
    at = nl == std::string::npos ? all.size() : nl + 1;
    if (line.empty() || line.starts_with("Failed to send")) continue;
    text += (text.empty() ? "" : "; ") + line;
  }
  throw Error("network pasta: " + (text.empty() ? "pasta failed" : text), EIO);
}

void pasta_teardown(const std::string& pid_file) {
  auto text = read_file_if_exists(pid_file);
  if (text) {
    long pid = std::strtol(text->c_str(), nullptr, 10);
    if (pid > 1) ::kill(static_cast<pid_t>(pid), SIGTERM);
  }
  ::unlink(pid_file.c_str());
}

}  // namespace kiln::engine
