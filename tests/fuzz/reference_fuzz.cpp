// libFuzzer target: image references (names in archives and on the command line: docker's
// grammar) are parsed or refused with a kiln::Error; a normalized name parses again to itself.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/error.hpp"
#include "image/reference.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  try {
    kiln::image::parse_reference(text);
  } catch (const kiln::Error&) {
  }
  try {
    std::string n = kiln::image::normalize_name(text);
    if (kiln::image::normalize_name(n) != n) __builtin_trap();  // not idempotent
  } catch (const kiln::Error&) {
  }
  return 0;
}
