// Path resolution inside a root directory (a container rootfs, a layer directory).
// Every path that comes from a config or an archive is resolved here, never by string checks:
// openat2(RESOLVE_IN_ROOT) makes "..", absolute symlinks and absolute names stay inside the
// root, as if the root were "/". Where openat2 is missing (ENOSYS) we walk component by
// component with O_NOFOLLOW and resolve symlinks ourselves, clamped to the root.
#pragma once
#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/unique_fd.hpp"

namespace kiln {

// Whether symlinks met on the way are followed (inside the root) or refused with ELOOP. Mounts
// of kernel filesystems (proc, sysfs, ...) refuse them: an image's symlinks must never decide
// where procfs lands (CVE-2019-16884, CVE-2019-19921 class).
enum class Symlinks { follow, refuse };

// Opens `path` (absolute or relative, both taken relative to root) inside root_fd.
// flags are open(2) flags; O_CLOEXEC is always added. Symlinks are followed inside the root.
UniqueFd open_in_root(int root_fd, std::string_view path, int flags, mode_t mode = 0,
                      Symlinks symlinks = Symlinks::follow);

// Like open_in_root, but a failure comes back as its errno (0 on success, `out` set) instead of
// an exception: for lookups where a missing path is the normal case.
int try_open_in_root(int root_fd, std::string_view path, int flags, mode_t mode, Symlinks symlinks, UniqueFd& out);

// The error open_in_root throws for `err` (one line naming the path and the root).
[[noreturn]] void throw_in_root_error(int root_fd, std::string_view path, Symlinks symlinks, int err);

// Like mkdir -p inside the root; returns an O_PATH|O_DIRECTORY fd of the final directory.
// A component that exists and is not a directory (after resolving inside the root) is an error.
UniqueFd mkdir_all_in_root(int root_fd, std::string_view path, mode_t mode = 0755,
                           Symlinks symlinks = Symlinks::follow);

// Resolves the parent of `path` inside the root (creating it when create_parents) and returns
// an O_PATH|O_DIRECTORY fd of it plus the last component, which is NOT resolved: callers use
// *at() calls with AT_SYMLINK_NOFOLLOW semantics on it (mknodat, symlinkat, unlinkat, ...).
// Throws when path has no last component (it is the root) or the last component is "..".
std::pair<UniqueFd, std::string> open_parent_in_root(int root_fd, std::string_view path, bool create_parents,
                                                     mode_t dir_mode = 0755);

// Reads a file of an image (its /etc/passwd, ...) inside the root, as untrusted input: opened
// O_NONBLOCK (a FIFO never hangs us), it must be a regular file of at most `limit` bytes
// (a sparse 1 GiB file is refused, not read). nullopt when it does not exist; throws otherwise.
std::optional<std::string> read_regular_in_root(int root_fd, std::string_view path, std::size_t limit);

// Makes the resolver walk by hand as it does without openat2 (so tests cover that path too).
void use_in_root_fallback(bool on);

// The path the kernel reports for fd (readlink /proc/self/fd/N).
std::string fd_path(int fd);

// "/proc/self/fd/N": lets mount(2) and friends act on exactly the inode we resolved.
std::string proc_fd_path(int fd);

// Splits a path into its non-empty components, dropping ".". ".." is kept (the resolver
// clamps it at the root).
std::vector<std::string> path_components(std::string_view path);

}  // namespace kiln
