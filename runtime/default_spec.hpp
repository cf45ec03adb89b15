// The default OCI runtime spec (what `kiln-runtime spec` writes, like `runc spec`): a
// non-terminal `sh`, the usual namespaces, mounts, masked/readonly paths and the default
// capability set of docker/runc. `kiln run` and `kiln unpack` start from it too.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace kiln::runtime {

nlohmann::json default_spec();

// Docker's default capability set (CAP_CHOWN ... CAP_AUDIT_WRITE), in that order.
const std::vector<std::string>& default_capabilities();

}  // namespace kiln::runtime
