#include "runtime/version.hpp"

#include <seccomp.h>

namespace kiln::runtime {

std::string version_text() {
  const scmp_version* v = seccomp_version();
  return std::string("kiln-runtime version ") + kVersion + "\nspec: " + kOciVersion +
         "\nlibseccomp: " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->micro);
}

}  // namespace kiln::runtime
