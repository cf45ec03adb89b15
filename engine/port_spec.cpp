#include "engine/port_spec.hpp"

#include <charconv>
#include <vector>

#include "common/error.hpp"
#include "engine/ipv4.hpp"

namespace kiln::engine {

PortSpec parse_port_spec(const std::string& text) {
  auto bad = [&](const std::string& why) { return Error("publish " + text + ": " + why, EINVAL); };
  PortSpec p;
  std::string body = text;
  size_t slash = body.find('/');
  if (slash != std::string::npos) {
    p.protocol = body.substr(slash + 1);
    body = body.substr(0, slash);
    if (p.protocol != "tcp" && p.protocol != "udp") throw bad("protocol \"" + p.protocol + "\": use tcp or udp");
  }
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    size_t colon = body.find(':', start);
    parts.push_back(body.substr(start, colon == std::string::npos ? std::string::npos : colon - start));
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  if (parts.size() > 3) throw bad("expected [IP:]HOSTPORT:CONTAINERPORT or CONTAINERPORT");
  auto port = [&](const std::string& v, const char* which, bool may_be_empty) -> uint16_t {
    if (v.empty() && may_be_empty) return 0;
    if (v.find('-') != std::string::npos && v.size() > 1 && v[0] != '-') throw bad("port ranges are not supported");
    long n = -1;
    auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (v.empty() || ec != std::errc() || ptr != v.data() + v.size())
      throw bad(std::string(which) + " \"" + v + "\" is not a number");
    if (n < 1 || n > 65535) throw bad(std::string(which) + " " + v + " out of range (1-65535)");
    return static_cast<uint16_t>(n);
  };
  p.container_port = port(parts.back(), "container port", false);
  if (parts.size() >= 2) p.host_port = port(parts[parts.size() - 2], "host port", parts.size() == 3);
  if (parts.size() == 2 && p.host_port == 0) throw bad("empty host port");
  if (parts.size() == 3) {
    p.host_ip = parts[0];
    if (!parse_ipv4(p.host_ip)) throw bad("host address \"" + p.host_ip + "\" is not an IPv4 address");
    if (p.host_ip == "0.0.0.0") p.host_ip.clear();
  }
  return p;
}

std::string port_text(const PortSpec& p) {
  return (p.host_ip.empty() ? std::string("0.0.0.0") : p.host_ip) + ":" + std::to_string(p.host_port) + "->" +
         std::to_string(p.container_port) + "/" + p.protocol;
}

}  // namespace kiln::engine
