// linux.resources -> cgroup v2 interface files, converting the spec's v1-flavoured units
// (shares, memory+swap, blkio weights) the way runc and crun do.
#include <map>
#include <utility>

#include <spdlog/spdlog.h>

#include "cgroups/cgroup_files.hpp"
#include "cgroups/device_bpf.hpp"
#include "cgroups/layout.hpp"
#include "cgroups/v2_manager.hpp"
#include "common/error.hpp"

namespace kiln::cgroups {
namespace {

std::string bytes_or_max(int64_t v) { return v < 0 ? "max" : std::to_string(v); }

// Writes one setting into the container's cgroup directory.
struct V2Writer {
  const std::string& dir;
  void set(const std::string& file, const std::string& value, const std::string& setting) const {
    write_setting(dir, file, value, setting);
  }
};

void apply_memory(const MemoryResources& m, const V2Writer& w) {
  const std::string mp = "linux.resources.memory.";
  if (m.check_before_update.value_or(false) && m.limit && *m.limit > 0) {
    const std::string usage_file = w.dir + "/memory.current";
    uint64_t usage = parse_uint(read_cgroup_file(usage_file), usage_file);
    if (static_cast<uint64_t>(*m.limit) < usage)
      throw Error("set " + mp + "limit: " + std::to_string(*m.limit) + " is below the current usage " +
                  std::to_string(usage));
  }
  // Convert before writing anything: a bad swap/limit pair must not leave half the settings.
  std::optional<std::string> swap_max = swap_v2_value(m.limit, m.swap);
  if (m.limit) w.set("memory.max", bytes_or_max(*m.limit), mp + "limit");
  if (swap_max) w.set("memory.swap.max", *swap_max, mp + "swap");
  if (m.reservation) w.set("memory.low", bytes_or_max(*m.reservation), mp + "reservation");
  // No v2 equivalents: the kernel decides (swappiness is global, kmem is always accounted).
  if (m.kernel || m.kernel_tcp || m.swappiness || m.disable_oom_killer || m.use_hierarchy)
    spdlog::debug("cgroups v2: ignoring memory settings that only exist on cgroup v1");
}

void apply_cpu(const CpuResources& c, const V2Writer& w) {
  const std::string cp = "linux.resources.cpu.";
  if (c.shares && *c.shares != 0) w.set("cpu.weight", std::to_string(shares_to_weight(*c.shares)), cp + "shares");
  if (c.quota || c.period) {
    // cpu.max is "QUOTA PERIOD"; a quota alone keeps the period, a period alone needs "max".
    std::string value = c.quota && *c.quota > 0 ? std::to_string(*c.quota) : "max";
    if (c.period && *c.period != 0) {
      value += ' ';
      value += std::to_string(*c.period);
    }
    w.set("cpu.max", value, cp + (c.quota ? "quota" : "period"));
  }
  if (c.burst) w.set("cpu.max.burst", std::to_string(*c.burst), cp + "burst");
  if (c.idle) w.set("cpu.idle", std::to_string(*c.idle), cp + "idle");
  if ((c.realtime_runtime && *c.realtime_runtime != 0) || (c.realtime_period && *c.realtime_period != 0))
    throw Error("set " + cp + "realtimeRuntime: realtime scheduling groups do not exist on cgroup v2");
  if (c.cpus && !c.cpus->empty()) w.set("cpuset.cpus", *c.cpus, cp + "cpus");
  if (c.mems && !c.mems->empty()) w.set("cpuset.mems", *c.mems, cp + "mems");
}

// BFQ takes blkio's 10..1000 weights as they are; io.weight (1..10000) needs converting.
void apply_io(const BlockIoResources& io, const V2Writer& w) {
  const std::string bp = "linux.resources.blockIO.";
  if (io.empty()) return;
  const bool bfq = file_exists(w.dir + "/io.bfq.weight");
  auto weight = [&](uint64_t v) { return std::to_string(bfq ? v : blkio_weight_to_io_weight(v)); };
  const std::string weight_file = bfq ? "io.bfq.weight" : "io.weight";
  if (io.weight) w.set(weight_file, weight(*io.weight), bp + "weight");
  if (io.leaf_weight) spdlog::debug("cgroups v2: ignoring {}leafWeight (cgroup v1 only)", bp);
  for (size_t i = 0; i < io.weight_device.size(); ++i) {
    const auto& wd = io.weight_device[i];
    if (wd.weight)
      w.set(weight_file, device_number(wd.major, wd.minor) + " " + weight(*wd.weight),
            bp + "weightDevice[" + std::to_string(i) + "]");
  }
  // One io.max line per device carrying all of its limits.
  std::map<std::pair<int64_t, int64_t>, std::string> limits;
  auto add = [&](const std::vector<ThrottleDevice>& list, const char* key) {
    for (const auto& t : list) limits[{t.major, t.minor}] += std::string(" ") + key + "=" + std::to_string(t.rate);
  };
  add(io.throttle_read_bps_device, "rbps");
  add(io.throttle_write_bps_device, "wbps");
  add(io.throttle_read_iops_device, "riops");
  add(io.throttle_write_iops_device, "wiops");
  for (const auto& [dev, line] : limits)
    w.set("io.max", device_number(dev.first, dev.second) + line, bp + "throttle (io.max)");
}

}  // namespace

void V2Manager::apply_resources(const Resources& r, bool with_devices) {
  const V2Writer w{dir_};
  auto set = [&](const std::string& file, const std::string& value, const std::string& setting) {
    w.set(file, value, setting);
  };
  apply_memory(r.memory, w);
  apply_cpu(r.cpu, w);
  if (r.pids.limit)
    set("pids.max", *r.pids.limit > 0 ? std::to_string(*r.pids.limit) : "max", "linux.resources.pids.limit");

  apply_io(r.block_io, w);

  for (size_t i = 0; i < r.hugepage_limits.size(); ++i) {
    const auto& h = r.hugepage_limits[i];
    set("hugetlb." + h.page_size + ".max", std::to_string(h.limit),
        "linux.resources.hugepageLimits[" + std::to_string(i) + "]");
  }

  for (const auto& [name, limit] : r.rdma) set("rdma.max", rdma_max_line(name, limit), "linux.resources.rdma." + name);

  if (r.network.class_id || !r.network.priorities.empty())
    throw Error("set linux.resources.network: net_cls and net_prio do not exist on cgroup v2");

  if (with_devices && !device_rules_) spdlog::debug("cgroups v2: {}: no device program (delegated subtree)", dir_);
  if (with_devices && device_rules_) {
    std::vector<DeviceRule> rules = r.devices;
    rules.insert(rules.end(), default_device_rules().begin(), default_device_rules().end());
    auto prog = device_program(rules);
    if (is_cgroupfs(root_)) {
      attach_device_program(clone_into_fd(), prog, dir_);
    } else {
      spdlog::debug("cgroups v2: {} is not a cgroup2 mount; device program not attached", root_);
    }
  }

  // Last, so that a raw value overrides what the typed fields wrote.
  for (const auto& [key, value] : r.unified) {
    validate_unified_key(key);
    set(key, value, "linux.resources.unified[\"" + key + "\"]");
  }
}

}  // namespace kiln::cgroups
