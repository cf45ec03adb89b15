// kiln run [flags] IMAGE [COMMAND...]: a container from a local image. Parse the
// flags, then: resolve and pin the image, make the record and the overlay rootfs, generate the
// spec in memory, run it attached or under a detached monitor. A failure anywhere leaves
// nothing behind (RunGuard). Exit status: the container's; 125 kiln failed, 126 the command
// cannot be executed, 127 it was not found.
#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>

#include "cli/command_registry.hpp"
#include "common/clock.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "image/image_store.hpp"
#include "image/rootfs_plan.hpp"
#include "image/user_lookup.hpp"
#include "runtime/run_monitor.hpp"
#include "runtime/run_rootfs.hpp"
#include "runtime/run_etc_files.hpp"
#include "runtime/run_spec.hpp"
#include "runtime/secret_inject.hpp"

namespace {

namespace rt = kiln::runtime;
using kiln::Error;

struct Flags {
  std::string image;
  bool rm = false, detach = false, interactive = false, tty = false, read_only = false;
  std::string name, user, workdir, hostname, memory, cpus, network = "none";
  std::vector<std::string> env, env_files, cap_add, cap_drop, volumes, security_opts;
  std::vector<std::string> secrets;  // --secret
  std::vector<std::string> ulimits;
  int64_t pids_limit = 0;
  int timeout = 0;
};

const char* getenv_lookup(const char* key) { return std::getenv(key); }

rt::RunFlags to_run_flags(const Flags& f, const std::vector<std::string>& command) {
  rt::RunFlags r;
  r.command = command;
  for (const auto& file : f.env_files) {
    std::string text = kiln::with_context("env file " + file, [&] { return kiln::read_file(file); });
    for (auto& e : rt::parse_env_file_text(text, file, getenv_lookup)) r.env.push_back(std::move(e));
  }
  for (const auto& e : f.env)
    if (auto v = rt::expand_env(e, getenv_lookup)) r.env.push_back(*v);
  r.user = f.user;
  r.workdir = f.workdir;
  if (!f.workdir.empty() && f.workdir[0] != '/') throw Error("workdir " + f.workdir + ": must be absolute");
  r.hostname = f.hostname;
  if (!f.memory.empty()) r.memory = rt::parse_memory(f.memory);
  if (f.pids_limit < 0) throw Error("pids-limit " + std::to_string(f.pids_limit) + ": must be positive");
  if (f.pids_limit > 0) r.pids_limit = f.pids_limit;
  if (!f.cpus.empty()) r.cpus = rt::parse_cpus(f.cpus);
  r.cap_add = f.cap_add;
  r.cap_drop = f.cap_drop;
  rt::effective_capabilities(r.cap_add, r.cap_drop);  // validates the names now
  for (const auto& v : f.volumes) r.volumes.push_back(rt::parse_volume(v));
  for (const auto& u : f.ulimits) r.ulimits.push_back(rt::parse_ulimit(u));
  r.read_only = f.read_only;
  r.tty = f.tty;
  if (f.network == "host") r.host_network = true;
  else if (f.network != "none") throw Error("network " + f.network + ": use none or host");
  for (const auto& o : f.security_opts) {
    if (o.rfind("seccomp=", 0) != 0) throw Error("security-opt " + o + ": only seccomp=unconfined|FILE is supported");
    r.seccomp = o.substr(8);
    if (r.seccomp.empty()) throw Error("security-opt " + o + ": empty profile");
    if (r.seccomp != "unconfined" && !kiln::path_exists(r.seccomp)) throw Error("seccomp profile " + r.seccomp + ": no such file");
  }
  if (f.timeout < 0) throw Error("timeout " + std::to_string(f.timeout) + ": must be positive");
  if (f.detach && f.tty) throw Error("-t with -d is not supported: a detached container's output goes to its log");
  return r;
}

// Like docker's "-init" layer: the mount points every container needs (/proc, /sys, /dev,
// /etc), as one shared read-only lower dir on top of the image's layers, so that a read-only
// rootfs of an image that lacks them still starts. Made once per store, atomically.
std::string init_layer(const std::string& store_root) {
  std::string dir = store_root + "/containers/.init";
  // run/secrets: the mount point of the secrets tmpfs; etc/*: of the files in run_etc_files.hpp.
  // Also under --read-only, where nothing can be created in the rootfs.
  auto add_mount_points = [](const std::string& d) {
    for (const char* sub : {"proc", "sys", "dev", "etc", "run/secrets"}) kiln::mkdir_p(d + "/" + sub, 0755);
    for (const char* file : {"etc/hostname", "etc/hosts", "etc/resolv.conf"})
      if (!kiln::path_exists(d + "/" + file)) kiln::write_file(d + "/" + file, "", 0644);
  };
  if (kiln::path_exists(dir + "/etc/resolv.conf")) return dir;
  if (kiln::path_exists(dir + "/proc")) {
    add_mount_points(dir);  // a store made by an older kiln: add what is missing in place
    return dir;
  }
  std::string tmp = dir + ".tmp-" + std::to_string(::getpid());
  kiln::remove_tree(tmp);
  add_mount_points(tmp);
  if (::rename(tmp.c_str(), dir.c_str()) != 0) kiln::remove_tree(tmp);  // another run made it first
  return dir;
}

rt::RootfsMount to_mount(kiln::image::RootfsPlan plan, const std::string& init, const std::string& target) {
  rt::RootfsMount m;
  m.target = target;
  if (plan.kind == kiln::image::RootfsPlan::Kind::bind_ro) plan.lower_dirs = {plan.bind_source};
  plan.kind = kiln::image::RootfsPlan::Kind::overlay;
  plan.lower_dirs.insert(plan.lower_dirs.begin(), init);
  m.overlay_options = plan.overlay_options();
  return m;
}

uint64_t nofile_hard_limit() {
  struct rlimit rl;
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_max == RLIM_INFINITY) return 0;
  return rl.rlim_max;
}

int run(const Flags& f, const std::vector<std::string>& command) {
  // --- secrets : checked before anything is made; no core dump may hold a value ---
  if (!f.secrets.empty() || !f.env.empty() || !f.env_files.empty()) ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  std::vector<rt::SecretRequest> secret_requests = rt::parse_secret_requests(f.secrets);
  std::optional<rt::SecretStore> secret_store;
  if (!secret_requests.empty()) {
    secret_store.emplace(kiln::cli::globals().root);
    for (const auto& r : secret_requests) secret_store->info(r.name);  // "secret NAME not found"
  }
  // ---
  rt::RunFlags rf = to_run_flags(f, command);
  kiln::image::Store store(kiln::cli::globals().root);
  kiln::image::Image img = store.resolve(f.image);
  rt::RunRecords records(rt::default_run_root());

  rt::RunRecord rec;
  rec.id = rt::RunRecords::new_id();
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
  rec.created = kiln::now_rfc3339();
  records.create(rec);
  auto image_id = img.record.id;
  auto id = rec.id;
  std::function<void()> unpin = [store, image_id, id] { store.unpin(image_id, id); };
  rt::RunGuard guard(records, rec, unpin);
  store.pin(image_id, id);

  kiln::mkdir_p(rec.container_dir, 0700);
  if (!f.read_only) {
    kiln::mkdir_p(rec.container_dir + "/upper", 0755);
    kiln::mkdir_p(rec.container_dir + "/work", 0700);
  }
  kiln::mkdir_p(rec.container_dir + "/empty", 0755);
  auto plan = kiln::image::plan_rootfs(store, img, rec.container_dir, f.read_only, rec.container_dir + "/empty");
  rt::mount_rootfs(to_mount(plan, init_layer(store.root()), rec.rootfs));

  const auto& ic = img.config.config;
  rt::SpecInputs in;
  in.id = rec.id;
  in.rootfs = rec.rootfs;
  in.image = {ic.entrypoint, ic.cmd, ic.env, ic.working_dir, ic.user};
  in.flags = rf;
  in.nofile_hard_limit = nofile_hard_limit();
  rt::write_container_etc_files(rec.container_dir, rt::container_hostname(in), f.network == "host");
  in.etc_dir = rec.container_dir;
  std::string user = f.user.empty() ? ic.user : f.user;
  {
    kiln::UniqueFd root = kiln::open_file(rec.rootfs, O_PATH | O_DIRECTORY);
    auto u = kiln::with_context("user " + user, [&] { return kiln::image::resolve_user(root.get(), user); });
    in.user = {u.uid, u.gid, u.additional_gids};
  }
  rt::RunJob job{records, rec, rt::build_run_spec(in), {}, unpin};
  job.record.command = job.spec["process"]["args"].get<std::vector<std::string>>();
  job.record.env_keys = rt::env_keys(job.spec["process"]["env"].get<std::vector<std::string>>());
  job.record.hostname = job.spec.value("hostname", "");
  // --- secrets : values go only into the in-memory spec and a detached tmpfs; the
  // record keeps names and targets (kiln inspect) ---
  rt::PreparedSecrets secrets;
  if (!secret_requests.empty()) {
    secrets = rt::prepare_secrets(*secret_store, secret_requests, {in.user.uid, in.user.gid});
    rt::apply_env_secrets(job.spec, secrets);
    if (secrets.mount) job.detached_mounts.push_back(secrets.mount->detached());
    job.record.extra["secrets"] = rt::secret_requests_json(secret_requests);
  }
  // ---
  records.save(job.record);
  // `kiln exec` (the runtime's exec) reads the container's process settings from the bundle:
  // give it the spec WITHOUT the environment, which may carry secrets. exec takes the env
  // from the container's init instead.
  nlohmann::json on_disk = job.spec;
  on_disk["process"]["env"] = nlohmann::json::array();
  kiln::write_file_atomic(rec.container_dir + "/config.json", on_disk.dump(), 0600, kiln::Sync::in_memory);

  if (f.detach) {
    rt::run_detached(job);
    rt::wipe_process_env(job.spec);  // the container has its copy; drop ours
    guard.commit();
    std::printf("%s\n", rec.id.c_str());
    return 0;
  }
  if (!f.interactive && !f.tty) {
    kiln::UniqueFd null = kiln::open_file("/dev/null", O_RDONLY);
    ::dup2(null.get(), 0);
  }
  guard.commit();
  try {
    return rt::run_attached(job);
  } catch (...) {
    rt::remove_run_container(records, job.record, unpin, true);
    throw;
  }
}

kiln::cli::RegisterCommand reg("run", "Run a container from a local image", [](CLI::App& sub) -> kiln::cli::Action {
  auto f = std::make_shared<Flags>();
  sub.set_help_flag("--help", "print this help");  // -h is --hostname (docker)
  sub.add_flag("--rm", f->rm, "remove the container when it exits");
  sub.add_flag("-d,--detach", f->detach, "run in the background, print the id");
  sub.add_flag("-i,--interactive", f->interactive, "keep stdin attached");
  sub.add_flag("-t,--tty", f->tty, "allocate a terminal");
  sub.add_option("--name", f->name, "container name (unique)");
  sub.add_option("-e,--env", f->env, "KEY=VALUE, or KEY to take it from kiln's environment")->allow_extra_args(false);
  sub.add_option("--env-file", f->env_files, "file of KEY=VALUE lines")->allow_extra_args(false);
  sub.add_option("-u,--user", f->user, "user[:group] or uid[:gid]");
  sub.add_option("-w,--workdir", f->workdir, "working directory inside the container");
  sub.add_option("-h,--hostname", f->hostname, "container host name");
  sub.add_option("-m,--memory", f->memory, "memory limit (b, k, m, g)");
  sub.add_option("--pids-limit", f->pids_limit, "maximum number of processes");
  sub.add_option("--cpus", f->cpus, "number of CPUs (quota over a 100ms period)");
  sub.add_option("--cap-add", f->cap_add, "add a capability (or ALL)")->allow_extra_args(false);
  sub.add_option("--cap-drop", f->cap_drop, "drop a capability (or ALL)")->allow_extra_args(false);
  sub.add_option("-v,--volume", f->volumes, "HOST:CONTAINER[:ro] bind mount")->allow_extra_args(false);
  sub.add_flag("--read-only", f->read_only, "read-only root filesystem (no upper dir)");
  sub.add_option("--timeout", f->timeout, "kill the container after SECONDS (exit status 124)");
  sub.add_option("--network", f->network, "none (private, loopback only; default) or host");
  sub.add_option("--security-opt", f->security_opts, "seccomp=unconfined|FILE")->allow_extra_args(false);
  sub.add_option("--ulimit", f->ulimits, "NAME=SOFT[:HARD] resource limit (core, nofile, nproc, ...)")->allow_extra_args(false);
  sub.add_option("--secret", f->secrets, "NAME[,type=env|mount][,target=T][,mode=0400][,uid=U][,gid=G]")->allow_extra_args(false);
  sub.add_option("IMAGE", f->image, "image name or id")->required();
  sub.prefix_command();  // everything after IMAGE is the command
  CLI::App* app = &sub;
  return [f, app] {
    std::vector<std::string> command = app->remaining();
    try {
      return run(*f, command);
    } catch (const Error& e) {
      std::string m = e.what();
      size_t pos = m.find("exec: \"");
      if (pos != std::string::npos) {
        m = m.substr(pos);
        const std::string noent = ": no such file or directory";
        if (m.size() > noent.size() && m.compare(m.size() - noent.size(), noent.size(), noent) == 0 && m.find("$PATH") != std::string::npos)
          m.resize(m.size() - noent.size());
        std::fprintf(stderr, "kiln: run %s: %s\n", f->image.c_str(), m.c_str());
        return e.code() == ENOENT ? 127 : 126;
      }
      throw e.wrapped("run " + f->image);
    }
  };
});

}  // namespace
