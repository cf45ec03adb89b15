// libFuzzer target: the hooks object of a config.json (and of a saved state) is parsed or
// refused with a kiln::Error, and what parses serializes and parses back to the same.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "runtime/hooks.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nlohmann::json j = nlohmann::json::parse(data, data + size, nullptr, false);
  if (j.is_discarded()) return 0;
  try {
    kiln::runtime::Hooks h = kiln::runtime::parse_hooks(j);
    nlohmann::json again = kiln::runtime::hooks_to_json(h);
    if (kiln::runtime::hooks_to_json(kiln::runtime::parse_hooks(again)) != again) __builtin_trap();
  } catch (const kiln::Error&) {
  }
  return 0;
}
