// libFuzzer target: seccomp profiles (linux.seccomp of a config.json, `--security-opt
// seccomp=FILE`) are parsed and compiled to BPF with libseccomp, or refused with a
// kiln::Error; never a crash, hang or leak.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "runtime/seccomp_compile.hpp"
#include "runtime/seccomp_profile.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nlohmann::json j = nlohmann::json::parse(data, data + size, nullptr, false);
  if (j.is_discarded()) return 0;
  try {
    kiln::runtime::SeccompConfig c = kiln::runtime::parse_seccomp_config(j);
    if (c.profile.syscalls.size() <= 64) kiln::runtime::compile_seccomp(c.profile);
  } catch (const kiln::Error&) {
  }
  return 0;
}
