#include "engine/run.hpp"

#include "engine/run_shared.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <optional>

#include "common/clock.hpp"
#include "common/error.hpp"
#include "common/failpoint.hpp"
#include "common/files.hpp"
#include "common/stage_clock.hpp"
#include "engine/container_network.hpp"
#include "engine/container_spec.hpp"
#include "engine/etc_files.hpp"
#include "engine/monitor.hpp"
#include "engine/records.hpp"
#include "runtime/state.hpp"
#include "engine/rootfs.hpp"
#include "engine/secret_inject.hpp"
#include "engine/secret_request.hpp"
#include "engine/secret_store.hpp"
#include "image/image_store.hpp"
#include "image/user_lookup.hpp"

namespace kiln::engine {
namespace {

const char* getenv_lookup(const char* key) { return std::getenv(key); }

RunFlags to_run_flags(const RunRequest& f) {
  RunFlags r;
  r.command = f.command;
  for (const auto& file : f.env_files) {
    std::string text = with_context("env file " + file, [&] { return read_file(file); });
    for (auto& e : parse_env_file_text(text, file, getenv_lookup)) r.env.push_back(std::move(e));
  }
  for (const auto& e : f.env)
    if (auto v = expand_env(e, getenv_lookup)) r.env.push_back(*v);
  r.user = f.user;
  r.workdir = f.workdir;
  if (!f.workdir.empty() && f.workdir[0] != '/') throw Error("workdir " + f.workdir + ": must be absolute");
  r.hostname = f.hostname;
  if (!f.memory.empty()) r.memory = parse_memory(f.memory);
  if (f.pids_limit < 0) throw Error("pids-limit " + std::to_string(f.pids_limit) + ": must be positive");
  if (f.pids_limit > 0) r.pids_limit = f.pids_limit;
  if (!f.cpus.empty()) r.cpus = parse_cpus(f.cpus);
  r.cap_add = f.cap_add;
  r.cap_drop = f.cap_drop;
  effective_capabilities(r.cap_add, r.cap_drop);  // validates the names now
  for (const auto& v : f.volumes) r.volumes.push_back(parse_volume(v));
  for (const auto& u : f.ulimits) r.ulimits.push_back(parse_ulimit(u));
  r.read_only = f.read_only;
  r.tty = f.tty;
  r.host_network = f.network == "host";  // the rest of the network: container_network.hpp
  for (const auto& o : f.security_opts) {
    if (o.rfind("seccomp=", 0) != 0) throw Error("security-opt " + o + ": only seccomp=unconfined|FILE is supported");
    r.seccomp = o.substr(8);
    if (r.seccomp.empty()) throw Error("security-opt " + o + ": empty profile");
    if (r.seccomp != "unconfined" && !path_exists(r.seccomp))
      throw Error("seccomp profile " + r.seccomp + ": no such file");
  }
  if (f.timeout < 0) throw Error("timeout " + std::to_string(f.timeout) + ": must be positive");
  if (f.detach && f.tty) throw Error("-t with -d is not supported: a detached container's output goes to its log");
  return r;
}

uint64_t nofile_hard_limit() {
  struct rlimit rl;
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_max == RLIM_INFINITY) return 0;
  return rl.rlim_max;
}

RunRecord new_record(const RunRequest& f, const image::Store& store, const image::Image& img) {
  RunRecord rec;
  rec.id = RunRecords::new_id();
  rec.name = f.name;
  rec.image = f.image;
  rec.image_id = img.record.id.str();
  rec.store = store.root();
  rec.container_dir = store.root() + "/containers/" + rec.id;
  rec.rootfs = rec.container_dir + "/merged";
  rec.read_only = f.read_only;
  rec.auto_remove = f.rm;
  rec.detached = f.detach;
  rec.timeout = f.timeout;
  rec.created = now_rfc3339();
  // Until the monitor puts its own pid here, this kiln owns the record: if it dies, the next
  // command sees that (settle_orphaned) and removes what it had made.
  rec.monitor_pid = ::getpid();
  rec.monitor_start_time = runtime::process_start_time(rec.monitor_pid);
  return rec;
}

// --storage-opt size=N (bytes), 0 when not given.
uint64_t writable_layer_size(const RunRequest& f) {
  uint64_t size = 0;
  for (const auto& o : f.storage_opts) {
    if (o.rfind("size=", 0) != 0) throw Error("storage-opt " + o + ": only size=N is supported");
    std::string v = o.substr(5);
    size_t digits = 0;
    while (digits < v.size() && std::isdigit(static_cast<unsigned char>(v[digits]))) ++digits;
    std::string unit = v.substr(digits);
    uint64_t mult = unit.empty() || unit == "b" ? 1
                    : unit == "k"               ? 1ULL << 10
                    : unit == "m"               ? 1ULL << 20
                    : unit == "g"               ? 1ULL << 30
                                                : 0;
    if (digits == 0 || digits > 12 || mult == 0) throw Error("storage-opt " + o + ": use size=N[b|k|m|g]");
    size = std::stoull(v.substr(0, digits)) * mult;
    if (size < (1ULL << 20)) throw Error("storage-opt " + o + ": at least 1m");
  }
  if (size && f.read_only) throw Error("storage-opt size: a --read-only container has no writable layer");
  return size;
}

// The container's own dirs (upper and work only when its root is writable) and its overlay.
// With a size, upper and work live on a tmpfs of that size of the container's own (rw/): the
// same limit on every backing filesystem (no project quotas needed), in memory.
void make_rootfs(const image::Store& store, const image::Image& img, const std::string& container_dir, bool read_only,
                 uint64_t size) {
  mkdir_p(container_dir, 0700);
  RootfsPlan plan = plan_rootfs(store, img, container_dir, read_only);
  if (size) {
    std::string rw = container_dir + "/rw";
    mkdir_p(rw, 0700);
    std::string opts = "size=" + std::to_string(size) + ",mode=0700";
    if (::mount("kiln-upper", rw.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, opts.c_str()) != 0)
      throw_errno("mount a " + std::to_string(size) + "-byte writable layer on " + rw);
    plan.upper_dir = rw + "/upper";
    plan.work_dir = rw + "/work";
  }
  if (!read_only) {
    mkdir_p(plan.upper_dir, 0755);
    mkdir_p(plan.work_dir, 0700);
  }
  // Only an image without layers has it as its lower dir: one inode less per container.
  const std::string empty = container_dir + "/empty";
  if (std::find(plan.lower_dirs.begin(), plan.lower_dirs.end(), empty) != plan.lower_dirs.end()) mkdir_p(empty, 0755);
  mount_rootfs(plan);
}

// What the spec is built from: image defaults, flags, the network (set up here, once the flags
// are known good), the /etc files, the resolved user.
SpecInputs spec_inputs(const RunRequest& f, const PreparedRun& p, const RunRecords& records, const RunRecord& rec,
                       const NetworkPlan& plan, NetworkAttachment& net) {
  const image::Image& img = p.image;
  const auto& ic = img.config.config;
  SpecInputs in;
  in.id = rec.id;
  in.rootfs = rec.rootfs;
  in.image = image_defaults(img.config);
  in.flags = p.flags;
  in.nofile_hard_limit = nofile_hard_limit();
  std::string hostname = container_hostname(in);
  net = attach_network(records, rec, plan, hostname);
  in.flags.netns_path = net.netns;
  EtcNetwork etc{net.ip, net.aliases, net.dns_servers, net.dns_search, net.etc_from};
  // Beside the record, on the run root (a tmpfs on most hosts, as podman keeps them in its
  // runroot): three files less to create and remove on the store's filesystem per container.
  write_container_etc_files(records.dir(rec.id), hostname, f.network == "host", etc);
  in.etc_dir = records.dir(rec.id);
  std::string user = f.user.empty() ? ic.user : f.user;
  {
    UniqueFd root = open_file(rec.rootfs, O_PATH | O_DIRECTORY);
    auto u = with_context("user " + user, [&] { return image::resolve_user(root.get(), user); });
    in.user = {u.uid, u.gid, u.additional_gids};
  }
  return in;
}

}  // namespace

PreparedRun prepare_run(const RunRequest& f) {
  // --- secrets : checked before anything is made; no core dump may hold a value ---
  if (!f.secrets.empty() || !f.env.empty() || !f.env_files.empty()) ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  std::vector<SecretRequest> secret_requests = parse_secret_requests(f.secrets);
  std::optional<SecretStore> secret_store;
  if (!secret_requests.empty()) {
    secret_store.emplace(f.store_root);
    for (const auto& r : secret_requests) secret_store->info(r.name);  // "secret NAME not found"
  }
  // ---
  const uint64_t writable_size = writable_layer_size(f);
  log_stage("image resolve");
  image::Store store(f.store_root);
  image::Image img = store.resolve(f.image);
  RunFlags flags = to_run_flags(f);
  return {std::move(secret_requests), std::move(secret_store), writable_size,
          std::move(store),           std::move(img),          std::move(flags)};
}

RunOutcome run(const RunRequest& f) { return run_prepared(f, prepare_run(f)); }

RunOutcome run_prepared(const RunRequest& f, const PreparedRun& p) {
  const std::vector<SecretRequest>& secret_requests = p.secret_requests;
  const std::optional<SecretStore>& secret_store = p.secret_store;
  const uint64_t writable_size = p.writable_size;
  const image::Store& store = p.store;
  const image::Image& img = p.image;
  RunRecords records(default_run_root());
  NetworkPlan net_plan = plan_network({f.network, f.ip, f.network_aliases, f.publish}, f.store_root, records);
  // A fixed address or host port may still be held by a container whose monitor was killed
  // and whose process is gone: release those first (what `ps` would do), so the lease is free.
  if (!net_plan.ports.empty() || net_plan.ip) {
    for (auto& other : records.list()) {
      try {
        settle_orphaned(records, other);
      } catch (const Error&) {
      }
    }
  }

  log_stage("record");
  RunRecord rec = new_record(f, store, img);
  if (!f.name.empty()) {
    // The name may still be held by a run that died before its container started.
    try {
      RunRecord holder = records.load(records.resolve(f.name));
      settle_orphaned(records, holder);
    } catch (const Error&) {
    }
  }
  records.create(rec);
  KILN_FAILPOINT("engine-after-record-create");
  RunGuard guard(records, rec);
  store.pin(img.record.id, rec.id);

  if (writable_size) rec.extra["StorageSize"] = writable_size;
  log_stage("overlay mount");
  make_rootfs(store, img, rec.container_dir, f.read_only, writable_size);
  KILN_FAILPOINT("engine-after-rootfs-mount");
  log_stage("network and /etc files");
  NetworkAttachment net;
  SpecInputs in = spec_inputs(f, p, records, rec, net_plan, net);
  log_stage("spec");
  RunJob job{records, rec, build_run_spec(in), {}};
  job.record.command = job.spec["process"]["args"].get<std::vector<std::string>>();
  job.record.env_keys = env_keys(job.spec["process"]["env"].get<std::vector<std::string>>());
  job.record.hostname = job.spec.value("hostname", "");
  job.record.extra["NetworkSettings"] = network_settings_json(net_plan, net);
  // --- secrets : values go only into the in-memory spec and a detached tmpfs; the
  // record keeps names and targets (kiln inspect) ---
  PreparedSecrets secrets;
  if (!secret_requests.empty()) {
    secrets = prepare_secrets(*secret_store, secret_requests, {in.user.uid, in.user.gid});
    apply_env_secrets(job.spec, secrets);
    if (secrets.mount) job.detached_mounts.push_back(secrets.mount->detached());
    job.record.extra["secrets"] = secret_requests_json(secret_requests);
  }
  // ---
  log_stage("record save");
  records.save(job.record);
  // `kiln exec` (the runtime's exec) reads the container's process settings from the bundle:
  // give it the spec WITHOUT the environment, which may carry secrets. exec takes the env
  // from the container's init instead.
  nlohmann::json on_disk = job.spec;
  on_disk["process"]["env"] = nlohmann::json::array();
  write_file_atomic(records.dir(rec.id) + "/config.json", on_disk.dump(), 0600, Sync::in_memory);

  if (f.detach) {
    log_stage("monitor start");
    run_detached(job);
    log_stage("started");
    wipe_process_env(job.spec);  // the container has its copy; drop ours
    guard.commit();
    return {0, rec.id};
  }
  if (!f.interactive && !f.tty) {
    UniqueFd null = open_file("/dev/null", O_RDONLY);
    ::dup2(null.get(), 0);
  }
  guard.commit();
  try {
    return {run_attached(job), rec.id};
  } catch (...) {
    remove_run_container(records, job.record, true);
    throw;
  }
}

}  // namespace kiln::engine
