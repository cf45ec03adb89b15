// libFuzzer target: config.json (OCI runtime spec) parsing must reject garbage with a
// kiln::Error, never crash, hang or leak.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "runtime/spec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nlohmann::json j = nlohmann::json::parse(data, data + size, nullptr, false);
  if (j.is_discarded()) return 0;
  try {
    kiln::runtime::parse_spec(j, "/bundle");
  } catch (const kiln::Error&) {
  }
  try {
    kiln::runtime::parse_process(j, "process");
  } catch (const kiln::Error&) {
  }
  return 0;
}
