// How `kiln ps` words a container's state: "Up 3 seconds", "Exited (1) 5 minutes ago",
// "Created", "Unknown (monitor gone)", and the age column ("2 minutes ago").
#pragma once
#include <cstdint>
#include <string>

#include "engine/records.hpp"

namespace kiln::engine {

// Seconds since an RFC 3339 UTC time ("2026-11-26T16:15:48.123456789Z"); -1 when unparsable.
int64_t seconds_since(const std::string& rfc3339);
// 1 -> "1 second", 90 -> "About a minute", 300 -> "5 minutes", ... (docker's wording).
std::string human_duration(int64_t seconds);
// 1234567 -> "1.23MB" (docker's decimal units).
std::string human_size(uint64_t bytes);
std::string status_text(const RunRecord& record, const RunStatus& status);

}  // namespace kiln::engine
