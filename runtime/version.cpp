#include "runtime/version.hpp"

#include <fmt/format.h>
#include <seccomp.h>

namespace kiln::runtime {

std::string version_text() {
  const scmp_version* v = seccomp_version();
  return fmt::format("kiln-runtime version {}\nspec: {}\nlibseccomp: {}.{}.{}", kVersion, kOciVersion, v->major,
                     v->minor, v->micro);
}

}  // namespace kiln::runtime
