// An ordinary user's kiln runs in a session: one user namespace (its root is the user; ids 1..N
// are the user's /etc/subuid and /etc/subgid range when it has one, as podman maps them) and one
// mount namespace, held by a small process that only waits. Every kiln command of the user
// joins it first, so the overlay mounts one command makes are there for the next, and files
// owned by the range can be made and removed. Like podman's pause process; gone at reboot.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace kiln::engine {

struct IdRange {
  uint32_t start = 0;
  uint32_t count = 0;
};

// The first range of /etc/subuid (or subgid) for this user name or uid.
std::optional<IdRange> subordinate_range(const std::string& file, const std::string& user, uid_t id);

// Another entry of the file whose range shares ids with range: "NAME's 230000-295535", or
// nullopt. Two users mapping the same host ids could reach each other's container files.
std::optional<std::string> overlapping_range(const std::string& file, const std::string& user, uid_t id,
                                             const IdRange& range);

struct SessionInfo {
  pid_t holder = 0;
  bool created = false;           // this command made the session
  std::optional<IdRange> subuid;  // mapped as ids 1..count; none: the user's own id only
  std::optional<IdRange> subgid;
  std::string warning;  // for a session made now without a range: what that means
};

// Where an unprivileged user's kiln keeps things: $XDG_DATA_HOME/kiln (~/.local/share/kiln)
// and $XDG_RUNTIME_DIR/kiln (or /tmp/kiln-run-UID when unset).
std::string rootless_store_root();
std::string rootless_run_root();

// Joins this user's session (making it when there is none or it died). For root of the
// initial user namespace, and for a process already in another user namespace, does nothing
// and returns holder 0. Must run while the process is single-threaded.
SessionInfo enter_rootless_session(const std::string& run_root);

}  // namespace kiln::engine
