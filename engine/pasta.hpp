// User-mode networking for rootless containers, through pasta (Debian's passt): it gives a
// network namespace an interface with the host's addresses and routes and carries its traffic
// over ordinary sockets of the user; a published port is a socket pasta listens on, on the
// host. It forwards nothing else (no automatic port forwarding either way).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "engine/port_spec.hpp"

namespace kiln::engine {

// pasta's path, if installed.
std::optional<std::string> find_pasta();

// Starts pasta for netns (a bind-mounted namespace file) and waits until it is ready (it then
// runs in the background; its pid goes to pid_file). Throws with pasta's own reason.
void pasta_setup(const std::string& netns, const std::vector<PortSpec>& ports, const std::string& pid_file);

// Stops the pasta named by pid_file (it also quits by itself once the namespace is gone).
void pasta_teardown(const std::string& pid_file);

}  // namespace kiln::engine
