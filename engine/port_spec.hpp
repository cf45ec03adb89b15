// -p/--publish: a host port forwarded to a container port. Docker's forms:
//   CONTAINERPORT                  a free host port, on every host address
//   HOSTPORT:CONTAINERPORT         on every host address (0.0.0.0; 127.0.0.1 answers too)
//   IP:HOSTPORT:CONTAINERPORT      on one host address
//   IP::CONTAINERPORT              a free host port on one address
// each with an optional /tcp (default) or /udp. Ranges are not supported.
#pragma once
#include <cstdint>
#include <string>

namespace kiln::engine {

struct PortSpec {
  std::string host_ip;     // "" = every address (shown as 0.0.0.0)
  uint16_t host_port = 0;  // 0: a free one is picked when the container starts
  uint16_t container_port = 0;
  std::string protocol = "tcp";
};

// Throws "publish VALUE: ..." naming what is wrong (a port out of range, a bad address).
PortSpec parse_port_spec(const std::string& text);
// "0.0.0.0:8080->80/tcp"
std::string port_text(const PortSpec& p);

}  // namespace kiln::engine
