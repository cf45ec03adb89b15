// kiln-runtime features: what this runtime supports, in the runtime-spec "features" JSON.
#include <cstdio>

#include "cli/command_registry.hpp"
#include "runtime/features.hpp"

namespace {
kiln::cli::RegisterCommand reg("features", "print the supported features as JSON",
                               [](kiln::cli::Command&) -> kiln::cli::Action {
                                 return [] {
                                   std::printf("%s\n", kiln::runtime::runtime_features().dump(2).c_str());
                                   return 0;
                                 };
                               });
}  // namespace
