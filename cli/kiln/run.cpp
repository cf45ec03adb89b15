// kiln run [flags] IMAGE [COMMAND...]: a container from a local image (engine/run.hpp).
// Exit status: the container's; 125 kiln failed, 126 the command cannot be executed, 127 it
// was not found.
#include <stdlib.h>

#include <cstdio>
#include <memory>

#include "cli/command_registry.hpp"
#include "common/error.hpp"
#include "common/stage_clock.hpp"
#include "engine/replicas.hpp"
#include "engine/run.hpp"
#include "image/image_store.hpp"
#include "image/registry_pull.hpp"

namespace {

// Prints the ids of the replicas that started (in order), one line per failed one; exits with
// the first failure's status (0 when all started).
int print_replicas(const kiln::engine::RunRequest& f, int n) {
  int status = 0;
  for (const auto& r : kiln::engine::run_replicas(f, n)) {
    if (r.status == 0) {
      std::printf("%s\n", r.id.c_str());
      continue;
    }
    std::fprintf(stderr, "kiln: run %s: replica %d%s: %s\n", f.image.c_str(), r.index,
                 r.name.empty() ? "" : (" (" + r.name + ")").c_str(), r.error.c_str());
    if (!status) status = r.status;
  }
  return status;
}

kiln::cli::RegisterCommand reg(
    "run", "Run a container from a local image", [](kiln::cli::Command& sub) -> kiln::cli::Action {
      auto f = std::make_shared<kiln::engine::RunRequest>();
      auto replicas = std::make_shared<int>(-1);                                             // -1: not given
      auto pull = std::make_shared<std::pair<std::string, std::string>>("missing", "true");  // --pull, --tls-verify
      sub.set_help_flag("--help", "print this help");  // -h is --hostname (docker)
      sub.add_flag("--rm", f->rm, "remove the container when it exits");
      sub.add_flag("-d,--detach", f->detach, "run in the background, print the id");
      sub.add_flag("-i,--interactive", f->interactive, "keep stdin attached");
      sub.add_flag("-t,--tty", f->tty, "allocate a terminal");
      sub.add_option("--name", f->name, "container name (unique); with --replicas the prefix: NAME-1..N");
      sub.add_option("--replicas", *replicas, "with -d: N identical containers from one kiln (names NAME-1..N)");
      sub.add_option("-e,--env", f->env, "KEY=VALUE, or KEY to take it from kiln's environment").one_value_per_flag();
      sub.add_option("--env-file", f->env_files, "file of KEY=VALUE lines").one_value_per_flag();
      sub.add_option("-u,--user", f->user, "user[:group] or uid[:gid]");
      sub.add_option("-w,--workdir", f->workdir, "working directory inside the container");
      sub.add_option("-h,--hostname", f->hostname, "container host name");
      sub.add_option("-m,--memory", f->memory, "memory limit (b, k, m, g)");
      sub.add_option("--pids-limit", f->pids_limit, "maximum number of processes");
      sub.add_option("--cpus", f->cpus, "number of CPUs (quota over a 100ms period)");
      sub.add_option("--cap-add", f->cap_add, "add a capability (or ALL)").one_value_per_flag();
      sub.add_option("--cap-drop", f->cap_drop, "drop a capability (or ALL)").one_value_per_flag();
      sub.add_option("-v,--volume", f->volumes, "HOST:CONTAINER[:ro] bind mount").one_value_per_flag();
      sub.add_flag("--read-only", f->read_only, "read-only root filesystem (no upper dir)");
      sub.add_option("--storage-opt", f->storage_opts, "size=N: limit the writable layer to N bytes (k, m, g)")
          .one_value_per_flag();
      sub.add_option("--timeout", f->timeout, "kill the container after SECONDS (exit status 124)");
      sub.add_option("--network,--net", f->network,
                     "kiln (the default bridge network; default), a network's name, none (loopback only), host, "
                     "or container:OTHER");
      sub.add_option("--ip", f->ip, "a fixed address on the network");
      sub.add_option("--network-alias", f->network_aliases, "another DNS name on the network").one_value_per_flag();
      sub.add_option("-p,--publish", f->publish,
                     "[IP:]HOSTPORT:CONTAINERPORT[/udp], or CONTAINERPORT (a free host port)")
          .one_value_per_flag();
      sub.add_option("--security-opt", f->security_opts, "seccomp=unconfined|FILE").one_value_per_flag();
      sub.add_option("--ulimit", f->ulimits, "NAME=SOFT[:HARD] resource limit (core, nofile, nproc, ...)")
          .one_value_per_flag();
      sub.add_option("--secret", f->secrets, "NAME[,type=env|mount][,target=T][,mode=0400][,uid=U][,gid=G]")
          .one_value_per_flag();
      sub.add_option("--pull", pull->first, "missing (default), always or never: pull the image from its registry");
      sub.add_option("--tls-verify", pull->second, "false: pull over plain HTTP (default true)");
      sub.add_option("IMAGE", f->image, "image name or id").required();
      sub.prefix_command();  // everything after IMAGE is the command
      return [f, sub, pull, replicas] {
        f->command = sub.remaining();
        f->store_root = kiln::cli::globals().root;
        try {
          kiln::image::PullOptions po;
          po.tls_verify = kiln::image::parse_tls_verify(pull->second);
          po.progress = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
          kiln::image::ensure_image(kiln::image::Store(f->store_root), f->image,
                                    kiln::image::parse_pull_policy(pull->first), po);
          if (*replicas >= 0) return print_replicas(*f, *replicas);
          kiln::engine::RunOutcome out = kiln::engine::run(*f);
          kiln::log_stage("done");
          if (f->detach) std::printf("%s\n", out.id.c_str());
          return out.status;
        } catch (const kiln::Error& e) {
          if (e.kind() == kiln::ErrorKind::exec) {
            std::fprintf(stderr, "kiln: run %s: %s\n", f->image.c_str(), e.origin().c_str());
            return e.code() == ENOENT ? 127 : 126;
          }
          throw e.wrapped("run " + f->image);
        }
      };
    });

}  // namespace
