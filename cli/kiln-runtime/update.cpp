// kiln-runtime update [--resources FILE|-] [--memory N ...] ID: change a running container's
// cgroup limits (runc's flags; JSON in linux.resources shape on --resources).
#include <unistd.h>

#include <optional>

#include "cgroups/resources.hpp"
#include "cli/command_registry.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "runtime/lifecycle.hpp"

namespace {
struct Opts {
  std::string id;
  std::string resources;
  std::optional<int64_t> memory, memory_swap, memory_reservation, cpu_quota, pids_limit;
  std::optional<uint64_t> cpu_shares, cpu_period, blkio_weight;
  std::optional<std::string> cpuset_cpus, cpuset_mems;
};

kiln::cli::RegisterCommand reg(
    "update", "update a container's resource limits", [](kiln::cli::Command& sub) -> kiln::cli::Action {
      auto o = std::make_shared<Opts>();
      sub.add_option("-r,--resources", o->resources, "linux.resources JSON file, or - for stdin");
      sub.add_option("--memory", o->memory, "memory limit in bytes");
      sub.add_option("--memory-swap", o->memory_swap, "memory+swap limit in bytes");
      sub.add_option("--memory-reservation", o->memory_reservation, "memory soft limit in bytes");
      sub.add_option("--cpu-shares", o->cpu_shares, "cpu shares");
      sub.add_option("--cpu-quota", o->cpu_quota, "cpu quota (us per period)");
      sub.add_option("--cpu-period", o->cpu_period, "cpu period (us)");
      sub.add_option("--cpuset-cpus", o->cpuset_cpus, "cpus");
      sub.add_option("--cpuset-mems", o->cpuset_mems, "memory nodes");
      sub.add_option("--pids-limit", o->pids_limit, "max processes");
      sub.add_option("--blkio-weight", o->blkio_weight, "block io weight");
      sub.add_option("id", o->id, "container id").required();
      return [o] {
        using namespace kiln;
        using json = nlohmann::json;
        json r = json::object();
        if (!o->resources.empty()) {
          std::string text = o->resources == "-" ? read_fd(0) : read_file(o->resources);
          try {
            r = json::parse(text);
          } catch (const json::parse_error& e) {
            throw Error("update --resources " + o->resources + ": malformed JSON: " + e.what());
          }
        }
        if (o->memory) r["memory"]["limit"] = *o->memory;
        if (o->memory_swap) r["memory"]["swap"] = *o->memory_swap;
        if (o->memory_reservation) r["memory"]["reservation"] = *o->memory_reservation;
        if (o->cpu_shares) r["cpu"]["shares"] = *o->cpu_shares;
        if (o->cpu_quota) r["cpu"]["quota"] = *o->cpu_quota;
        if (o->cpu_period) r["cpu"]["period"] = *o->cpu_period;
        if (o->cpuset_cpus) r["cpu"]["cpus"] = *o->cpuset_cpus;
        if (o->cpuset_mems) r["cpu"]["mems"] = *o->cpuset_mems;
        if (o->pids_limit) r["pids"]["limit"] = *o->pids_limit;
        if (o->blkio_weight) r["blockIO"]["weight"] = *o->blkio_weight;
        cgroups::Resources res = with_context("update", [&] { return cgroups::parse_resources(r); });
        runtime::update_container(cli::globals().root, o->id, res);
        return 0;
      };
    });
}  // namespace
