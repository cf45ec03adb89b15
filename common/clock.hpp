// Timestamps in RFC 3339 with nanoseconds, UTC: what go-runc, containerd and podman parse.
#pragma once
#include <chrono>
#include <string>

namespace kiln {

std::string rfc3339(std::chrono::system_clock::time_point tp);
inline std::string now_rfc3339() { return rfc3339(std::chrono::system_clock::now()); }

}  // namespace kiln
