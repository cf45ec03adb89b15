// libFuzzer target: env files (`kiln run --env-file`) and -e values must be parsed or refused
// with a kiln::Error, never crash, hang or leak.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/error.hpp"
#include "engine/container_spec.hpp"

namespace {
const char* fuzz_lookup(const char* key) { return key[0] == 'A' ? "from-env" : nullptr; }
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  try {
    kiln::engine::parse_env_file_text(text, "fuzz.env", fuzz_lookup);
  } catch (const kiln::Error& e) {
    if (text.find("=SECRETVALUE") != std::string::npos &&
        std::string(e.what()).find("SECRETVALUE") != std::string::npos)
      __builtin_trap();  // an error quoted a value
  }
  try {
    kiln::engine::expand_env(text, fuzz_lookup);
  } catch (const kiln::Error&) {
  }
  return 0;
}
