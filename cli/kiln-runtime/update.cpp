// kiln-runtime update [--resources FILE|-] [--memory N ...] ID: change a running container's
// cgroup limits (runc's flags; JSON in linux.resources shape on --resources).
#include <unistd.h>

#include <optional>

#include "cgroups/resources.hpp"
#include "cli/command_registry.hpp"
#include "common/byte_size.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "runtime/lifecycle.hpp"

namespace {

struct Opts {
  std::string id;
  std::string resources;
  std::optional<std::string> memory, memory_swap, memory_reservation;
  std::optional<int64_t> cpu_quota, cpu_rt_runtime, pids_limit;
  std::optional<uint64_t> cpu_shares, cpu_period, cpu_rt_period, blkio_weight;
  std::optional<std::string> cpuset_cpus, cpuset_mems;
};

// runc's --memory values: bytes with an optional suffix ("100M"), or -1 for no limit.
int64_t memory_flag(const std::string& text, const char* flag) {
  if (text == "-1") return -1;
  return kiln::parse_byte_size(text, std::string("update ") + flag);
}

kiln::cli::RegisterCommand reg(
    "update", "update a container's resource limits", [](kiln::cli::Command& sub) -> kiln::cli::Action {
      auto o = std::make_shared<Opts>();
      sub.add_option("-r,--resources", o->resources, "linux.resources JSON file, or - for stdin");
      sub.add_option("--memory", o->memory, "memory limit (bytes, or 100M, 1g ...; -1: none)");
      sub.add_option("--memory-swap", o->memory_swap, "memory+swap limit (as --memory)");
      sub.add_option("--memory-reservation", o->memory_reservation, "memory soft limit (as --memory)");
      sub.add_option("--cpu-share,--cpu-shares", o->cpu_shares, "cpu shares");
      sub.add_option("--cpu-quota", o->cpu_quota, "cpu quota (us per period)");
      sub.add_option("--cpu-period", o->cpu_period, "cpu period (us)");
      sub.add_option("--cpu-rt-period", o->cpu_rt_period, "realtime period (us)");
      sub.add_option("--cpu-rt-runtime", o->cpu_rt_runtime, "realtime runtime (us per realtime period)");
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
        if (o->memory) r["memory"]["limit"] = memory_flag(*o->memory, "--memory");
        if (o->memory_swap) r["memory"]["swap"] = memory_flag(*o->memory_swap, "--memory-swap");
        if (o->memory_reservation)
          r["memory"]["reservation"] = memory_flag(*o->memory_reservation, "--memory-reservation");
        if (o->cpu_shares) r["cpu"]["shares"] = *o->cpu_shares;
        if (o->cpu_quota) r["cpu"]["quota"] = *o->cpu_quota;
        if (o->cpu_period) r["cpu"]["period"] = *o->cpu_period;
        if (o->cpu_rt_period) r["cpu"]["realtimePeriod"] = *o->cpu_rt_period;
        if (o->cpu_rt_runtime) r["cpu"]["realtimeRuntime"] = *o->cpu_rt_runtime;
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
