// Small *at() helpers for writing inside a directory we hold an fd for. None of them follows
// a symlink in the last component, so a name that turns out to be a link is acted on itself.
#pragma once
#include <string>

namespace kiln::image {

// rm -rf of dirfd/name, never following symlinks and never leaving the device of dirfd.
// A missing name is fine.
void remove_at(int dirfd, const std::string& name);

// Sets an xattr on dirfd/name without following a symlink at name.
// Returns errno (0 on success) so callers decide which failures matter.
int set_xattr_at(int dirfd, const std::string& name, const std::string& key, const void* value, size_t size);

}  // namespace kiln::image
