// User and group ids. (uid_t)-1 is not an id: to setresuid(2) and chown(2) it means "leave
// unchanged", so a process asked to run as 4294967295 would keep running as root.
#pragma once
#include <cstdint>
#include <string>

namespace kiln {

inline constexpr std::uint64_t kNotAnId = 0xffffffffu;

// Throws kiln::Error ("<what>: 4294967295 is not a valid id") for -1 and anything above it.
void check_id(std::uint64_t id, const std::string& what);

// Parses a decimal id strictly (digits only, no sign, in range, not -1); throws naming `what`.
std::uint32_t parse_id(const std::string& text, const std::string& what);

}  // namespace kiln
