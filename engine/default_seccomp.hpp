// The default seccomp allowlist of `kiln run`: runtime/seccomp_default.json (docker's default
// profile in OCI form: everything not listed fails with EPERM, clone is limited to flags that
// make no namespaces, clone3 fails with ENOSYS so libcs fall back to clone), compiled into the
// library at build time so a kiln binary never depends on a file next to it.
#pragma once
#include <string_view>

namespace kiln::engine {

std::string_view default_seccomp_json();

}  // namespace kiln::engine
