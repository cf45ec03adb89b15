#include "engine/netavark.hpp"

#include <fcntl.h>
#include <sched.h>
#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>

#include "common/error.hpp"
#include "common/files.hpp"
#include "common/process.hpp"

extern char** environ;

namespace kiln::engine {

using json = nlohmann::json;

namespace {

std::string find_network_binary(const char* env, const char* name) {
  const char* e = std::getenv(env);
  if (e && *e) return e;
  for (const char* dir : {"/usr/lib/podman/", "/usr/libexec/podman/", "/usr/local/lib/podman/"}) {
    std::string p = std::string(dir) + name;
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  throw Error(std::string(name) + " not found (install the " + name + " package, or set " + env + ")", ENOENT);
}

struct NetavarkRun {
  int status = 0;
  std::string out;
};

// netavark with its stdout and stderr captured (it prints its error as JSON on either), bounded
// in time: a hung netavark is killed after 60 s.
// host_netns: entered by the child before it runs netavark. There, as root of a user namespace,
// iptables may not take its lock in the host's /run: it takes one in config_dir.
NetavarkRun run_netavark(const std::vector<std::string>& args, const std::string& host_netns,
                         const std::string& config_dir) {
  std::string bin = find_network_binary("KILN_NETAVARK", "netavark");
  std::string aardvark = find_network_binary("KILN_AARDVARK_DNS", "aardvark-dns");
  std::vector<std::string> argv = {bin, "--aardvark-binary", aardvark};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  // netavark runs iptables (about 25 times a set-up) through PATH: the system's dirs only, so a
  // caller's PATH neither chooses what runs as root nor costs a failed exec per entry each time.
  std::vector<std::string> env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "PATH=", 5) != 0) env.emplace_back(*e);
  UniqueFd ns;
  if (!host_netns.empty()) {
    ns = open_file(host_netns, O_RDONLY);
    env.push_back("XTABLES_LOCKFILE=" + config_dir + "/xtables.lock");
  }
  std::vector<char*> cenv;
  for (auto& e : env) cenv.push_back(e.data());
  cenv.push_back(nullptr);
  Pipe out = make_pipe();
  pid_t pid = ::fork();
  if (pid < 0) throw_errno("fork netavark");
  if (pid == 0) {
    int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null < 0 || ::dup2(null, 0) < 0 || ::dup2(out.write.get(), 1) < 0 || ::dup2(out.write.get(), 2) < 0)
      ::_exit(127);
    if (ns && ::setns(ns.get(), CLONE_NEWNET) != 0) {
      ::dprintf(2, "{\"error\":\"enter network namespace %s: %s\"}", host_netns.c_str(), std::strerror(errno));
      ::_exit(126);
    }
    ::execve(cargv[0], cargv.data(), cenv.data());
    ::_exit(127);
  }
  Child child(pid);
  out.write.reset();
  NetavarkRun r;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  char buf[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) throw Error("netavark " + args.back() + ": no answer after 60 s (killed)", ETIMEDOUT);
    struct pollfd p = {out.read.get(), POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno("poll netavark's output");
    if (n == 0) continue;
    ssize_t got = ::read(out.read.get(), buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    r.out.append(buf, static_cast<size_t>(got));
  }
  r.status = child.wait();
  return r;
}

// netavark's message: {"error":"..."} somewhere in its output, else the output itself.
std::string netavark_message(const std::string& out) {
  size_t pos = out.find("{\"error\"");
  if (pos != std::string::npos) {
    size_t end = out.find('\n', pos);
    try {
      return json::parse(out.substr(pos, end == std::string::npos ? std::string::npos : end - pos)).value("error", out);
    } catch (const json::exception&) {
    }
  }
  std::string s = out;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (char& c : s)
    if (c == '\n') c = ' ';
  return s.empty() ? "failed with no message" : s;
}

}  // namespace

json netavark_options(const NetavarkContainer& c) {
  const NetworkConfig& n = c.network;
  json info = {{"name", n.name},
               {"id", n.id},
               {"driver", "bridge"},
               {"network_interface", n.bridge},
               {"subnets", json::array({{{"subnet", n.subnet.str()}, {"gateway", format_ipv4(n.gateway)}}})},
               {"ipv6_enabled", false},
               {"internal", n.internal},
               {"dns_enabled", n.dns_enabled},
               // Containers of one network cannot reach those of another.
               {"options", {{"isolate", "true"}}},
               {"ipam_options", {{"driver", "host-local"}}}};
  if (!n.created.empty()) info["created"] = n.created;
  json aliases = json::array();
  for (const auto& a : c.aliases) aliases.push_back(a);
  json per = {{"static_ips", json::array({format_ipv4(c.ip)})}, {"interface_name", "eth0"}};
  if (n.dns_enabled) per["aliases"] = aliases;
  json out = {{"container_id", c.id},
              {"container_name", c.name},
              {"networks", {{n.name, per}}},
              {"network_info", {{n.name, info}}}};
  if (!c.ports.empty()) {
    json ports = json::array();
    for (const auto& p : c.ports)
      ports.push_back({{"host_ip", p.host_ip},
                       {"container_port", p.container_port},
                       {"host_port", p.host_port},
                       {"range", 1},
                       {"protocol", p.protocol}});
    out["port_mappings"] = ports;
  }
  return out;
}

NetavarkResult netavark_setup(const std::string& config_dir, const std::string& netns, const std::string& options_file,
                              const std::string& network_name, const std::string& host_netns) {
  NetavarkRun r =
      run_netavark({"--config", config_dir, "--file", options_file, "setup", netns}, host_netns, config_dir);
  if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0)
    throw Error("network setup: netavark: " + netavark_message(r.out));
  NetavarkResult out;
  try {
    size_t brace = r.out.find('{');
    json status = json::parse(brace == std::string::npos ? r.out : r.out.substr(brace));
    const json& n = status.at(network_name);
    if (n.contains("interfaces"))
      for (const json& iface : n.at("interfaces")) out.mac = iface.value("mac_address", "");
    out.dns_servers = n.value("dns_server_ips", std::vector<std::string>{});
    out.dns_search = n.value("dns_search_domains", std::vector<std::string>{});
  } catch (const json::exception& e) {
    spdlog::warn("netavark setup: unexpected output ({}): {}", e.what(), r.out);
  }
  return out;
}

void netavark_teardown(const std::string& config_dir, const std::string& netns, const std::string& options_file,
                       const std::string& host_netns) {
  NetavarkRun r =
      run_netavark({"--config", config_dir, "--file", options_file, "teardown", netns}, host_netns, config_dir);
  if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0)
    throw Error("network teardown: netavark: " + netavark_message(r.out));
}

}  // namespace kiln::engine
