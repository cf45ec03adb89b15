// `kiln run`: the OCI runtime spec of one container, generated in memory from the image's
// defaults and the command-line flags (it may carry secrets in process.env, so it is never
// written anywhere). Pure data in, JSON out: unit-tested without a kernel.
//
// Safe defaults: docker's default capabilities (none effective for a non-root user), kiln's
// default seccomp allowlist, masked and read-only /proc paths, no_new_privileges, RLIMIT_NOFILE
// 1024 (never above the caller's own hard limit), a private network namespace (loopback only)
// unless --network host or a namespace to join (netns_path), cgroupsPath /kiln/<id>.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "image/image_config.hpp"

namespace kiln::engine {

// What the image says a container runs by default (image config "config").
struct ImageDefaults {
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::vector<std::string> env;  // KEY=VALUE
  std::string working_dir;
  std::string user;
};

// --ulimit NAME=SOFT[:HARD] (docker's names: core, nofile, nproc, ...; -1 is unlimited).
struct Ulimit {
  std::string type;  // "RLIMIT_CORE"
  uint64_t soft = 0;
  uint64_t hard = 0;
};

struct VolumeSpec {
  std::string host;
  std::string container;
  bool read_only = false;
};

// The flags of `kiln run` that shape the spec.
struct RunFlags {
  std::vector<std::string> command;  // replaces the image's Cmd
  std::vector<std::string> env;      // KEY=VALUE, already expanded (-e, --env-file)
  std::string user;                  // --user (else the image's)
  std::string workdir;
  std::string hostname;
  std::optional<int64_t> memory;  // bytes
  std::optional<int64_t> pids_limit;
  std::optional<double> cpus;
  std::vector<std::string> cap_add;  // "NET_ADMIN", "CAP_NET_ADMIN" or "ALL"
  std::vector<std::string> cap_drop;
  std::vector<VolumeSpec> volumes;
  bool read_only = false;
  bool tty = false;
  bool host_network = false;
  std::string netns_path;       // join this network namespace (a bridge network's, container:X)
  std::string seccomp;          // "" default, "unconfined", or a profile file's path
  std::vector<Ulimit> ulimits;  // replace the defaults of the same type
};

struct ResolvedProcessUser {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> additional_gids;
};

// "512m", "1g", "1024k", "1048576" (bytes) -> bytes; throws "memory VALUE: ...".
int64_t parse_memory(const std::string& text);
// "1.5" -> 1.5 CPUs; throws "cpus VALUE: ...".
double parse_cpus(const std::string& text);
// "core=0", "nofile=1024:2048", "nproc=-1"; throws "ulimit VALUE: ...".
Ulimit parse_ulimit(const std::string& text);
// "HOST:CTR[:ro|:rw]": both absolute; throws "volume VALUE: ...".
VolumeSpec parse_volume(const std::string& text);
// "K=V" stays; "K" alone takes K from `lookup` (kiln's own environment), dropped when unset.
// Throws "env VALUE: ..." for an empty key. Never puts a value in an error message.
std::optional<std::string> expand_env(const std::string& text, const char* (*lookup)(const char*));
// Docker's env-file format: KEY=VALUE lines, '#' comments and blank lines skipped, a bare KEY
// taken from `lookup`. Throws "env file PATH: line N: ..." (never quoting the value).
std::vector<std::string> parse_env_file_text(const std::string& text, const std::string& path,
                                             const char* (*lookup)(const char*));
// The capability set: defaults, minus drops, plus adds (ALL on either side); "CAP_" added.
// Throws "capability NAME: unknown".
std::vector<std::string> effective_capabilities(const std::vector<std::string>& add,
                                                const std::vector<std::string>& drop);
// The process args: entrypoint + (command or the image's cmd); throws when empty.
std::vector<std::string> process_args(const ImageDefaults& image, const RunFlags& flags);
// Environment: PATH default, the image's, then the flags' (later keys replace earlier ones).
std::vector<std::string> merge_env(const ImageDefaults& image, const RunFlags& flags, const std::string& hostname);
// The keys of KEY=VALUE entries (what inspect may show).
std::vector<std::string> env_keys(const std::vector<std::string>& env);

struct SpecInputs {
  std::string id;
  std::string rootfs;  // absolute path of the mounted rootfs
  ImageDefaults image;
  RunFlags flags;
  ResolvedProcessUser user;
  uint64_t nofile_hard_limit = 0;  // the caller's hard RLIMIT_NOFILE (0: unknown)
  // Where /etc/hostname, /etc/hosts and /etc/resolv.conf are (etc-NAME, run_etc_files.hpp): bound
  // over the image's; empty: none.
  std::string etc_dir;
};

// The host name a container gets: --hostname, else the short id; empty with the host's network
// (it keeps the host's).
std::string container_hostname(const SpecInputs& in);

nlohmann::json build_run_spec(const SpecInputs& in);

// What `kiln run` and `kiln unpack` share: process.args, env, cwd and user from the image's
// defaults and the flags (a key given twice is replaced, never appended; no command is an error).
void apply_image_process(nlohmann::json& process, const ImageDefaults& image, const RunFlags& flags,
                         const ResolvedProcessUser& user, const std::string& hostname);
ImageDefaults image_defaults(const image::ImageConfig& config);

}  // namespace kiln::engine
