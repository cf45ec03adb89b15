// libFuzzer target: a Dockerfile (what `kiln build` and `kiln lint` read from a context anyone
// may hand over) is parsed and its arguments expanded, or refused with a kiln::Error: never a
// crash, a hang or a leak.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/error.hpp"
#include "engine/dockerfile_expand.hpp"
#include "engine/dockerfile_parser.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  try {
    auto df = kiln::engine::parse_dockerfile(text, "Dockerfile");
    kiln::engine::BuildVars vars{{"A", "1"}, {"EMPTY", ""}};
    for (const auto& st : df.stages) {
      for (const auto& ins : st.instructions) {
        try {
          kiln::engine::expand_words(ins.args, vars, df.escape, "fuzz");
          kiln::engine::expand_key_values(ins.args, vars, df.escape, "fuzz", true, true);
        } catch (const kiln::Error&) {
        }
      }
    }
  } catch (const kiln::Error&) {
  }
  return 0;
}
