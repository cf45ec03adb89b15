#pragma once
#include <string>

namespace kiln::runtime {
inline constexpr const char* kVersion = "0.1.0";
inline constexpr const char* kOciVersion = "1.1.0";
// What `kiln-runtime --version` prints (podman shows it verbatim in `podman info`).
std::string version_text();
}  // namespace kiln::runtime
