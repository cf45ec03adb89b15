// Getting secrets into a container without leaving them anywhere on the host.
//
// type=env: the value becomes "T=value" in process.env of the spec kiln holds in memory (the
// spec with secrets is handed to the runtime in memory and never written to disk).
//
// type=mount: the values go into files on a small tmpfs that is created DETACHED with the new
// mount API (fsopen/fsconfig/fsmount): it has no path anywhere in the host's mount tree, so
// nothing under /run, /tmp or the kiln root can show it, and the files are written through
// openat(mount_fd, ...), never through a path. The mount fd is handed to the runtime as a
// DetachedMount; the container's init move_mount()s it to /run/secrets inside its own mount
// namespace. The tmpfs lives as long as something references it: our fd (closed when the
// SecretMount goes away, right after create) and the container's mount namespace, so it is
// freed when the container is removed.
#pragma once
#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <vector>

#include "common/unique_fd.hpp"
#include "runtime/lifecycle.hpp"
#include "engine/secret_buffer.hpp"
#include "engine/secret_request.hpp"
#include "engine/secret_store.hpp"

namespace kiln::engine {
using runtime::DetachedMount;

// Owns the fd of the detached secrets tmpfs.
class SecretMount {
 public:
  explicit SecretMount(UniqueFd fd) : fd_(std::move(fd)) {}
  int fd() const noexcept { return fd_.get(); }
  // For CreateOptions::detached_mounts (the fd stays owned by this object).
  DetachedMount detached() const { return {fd_.get(), kSecretsDir}; }

 private:
  UniqueFd fd_;
};

struct PreparedSecrets {
  std::optional<SecretMount> mount;  // set when some secret has type=mount
  std::vector<SecretBuffer> env;     // "T=value", one per type=env secret
};

// The container process's identity: the default owner of secret files (uid=/gid= override).
// With a user namespace, pass the HOST ids the container's user maps to.
struct SecretOwner {
  uid_t uid = 0;
  gid_t gid = 0;
};

// Checks every requested secret exists (error "secret NAME not found" before anything is made),
// then builds the tmpfs and the env entries. The tmpfs is made read-only once the files are
// written (nothing in a container should rewrite its secrets), which also suits --read-only.
PreparedSecrets prepare_secrets(const SecretStore& store, const std::vector<SecretRequest>& requests,
                                SecretOwner owner);

// A detached tmpfs (nosuid, nodev, noexec, root dir 0755) holding one file per entry, made
// read-only after writing. Exposed for tests and for callers with their own values.
struct SecretFile {
  std::string name;  // plain file name
  std::string_view value;
  mode_t mode = 0400;
  uid_t uid = 0;
  gid_t gid = 0;
};
SecretMount make_secret_tmpfs(const std::vector<SecretFile>& files);

// Sets "KEY=value" in config.process.env, replacing an entry with the same KEY (a secret or
// -e overrides the image's Env). Never logs; an entry without "KEY=" throws (not quoting it).
void set_process_env(nlohmann::json& config, std::string_view entry);
// Appends all of prepared.env to config.process.env (set_process_env for each) and, unless the
// spec already limits core dumps, sets RLIMIT_CORE to 0: a core file would hold the values.
void apply_env_secrets(nlohmann::json& config, const PreparedSecrets& prepared);
// Overwrites the bytes of every process.env string with zeros: call on the in-memory spec once
// the container has been created so no copy of an env secret lingers in kiln's heap.
void wipe_process_env(nlohmann::json& config) noexcept;

}  // namespace kiln::engine
