// What `kiln-runtime features` prints (runtime-spec features.md): built from the same tables the
// config parser accepts, so it says exactly what this runtime supports. containerd and the
// validation suite read it to decide what they may ask for.
#pragma once
#include <nlohmann/json.hpp>

namespace kiln::runtime {

nlohmann::json runtime_features();

}  // namespace kiln::runtime
