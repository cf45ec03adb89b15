// The default OCI runtime spec (what `kiln-runtime spec` writes, like `runc spec`): a
// non-terminal `sh`, the usual namespaces, mounts, masked/readonly paths and the default
// capability set of docker/runc. `kiln run` and `kiln unpack` start from it too.
#pragma once
#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace kiln::runtime {

nlohmann::json default_spec();

// What `spec --rootless` writes for a caller with these ids, as runc does: a user namespace
// mapping the caller to root (one id each), no network namespace (an unprivileged user cannot
// give it an interface), sysfs bound from the host (a user namespace may not mount a new one
// without its own network namespace), no devpts gid= (gid 5 is not mapped), no
// resources.
nlohmann::json rootless_spec(uid_t uid, gid_t gid);

// Docker's default capability set (CAP_CHOWN ... CAP_AUDIT_WRITE), in that order.
const std::vector<std::string>& default_capabilities();

}  // namespace kiln::runtime
