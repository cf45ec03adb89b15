// Which user namespace this process is in. Root of the initial one may do anything; in any
// other (an unprivileged user's kiln session, rootless podman's namespace) the kernel allows
// only what that namespace owns: no cgroups it was not given, no device nodes, no trusted.*
// xattrs, overlayfs only with userxattr.
#pragma once

namespace kiln {

// /proc/self/uid_map is the identity map "0 0 4294967295".
bool in_initial_user_namespace();

// The id exists in this user namespace (/proc/self/gid_map maps it).
bool gid_mapped(unsigned gid);

}  // namespace kiln
