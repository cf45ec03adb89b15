// linux.resources -> cgroup v1 interface files. Only the values that are set are written, so a
// create costs one write per setting and nothing else.
#include <spdlog/spdlog.h>

#include <functional>

#include "cgroups/cgroup_files.hpp"
#include "cgroups/v1_manager.hpp"
#include "common/error.hpp"
#include "common/files.hpp"

namespace kiln::cgroups {
namespace {

// Writes one setting into its controller's directory (resolved by the manager, which names the
// setting when that controller is not mounted).
struct V1Writer {
  std::function<const std::string&(const char* controller, const std::string& setting)> need;
  void set(const char* controller, const std::string& file, const std::string& value,
           const std::string& setting) const {
    write_setting(need(controller, setting), file, value, setting);
  }
};

void apply_memory(const MemoryResources& m, const V1Writer& w) {
  const std::string mp = "linux.resources.memory.";
  if (m.check_before_update.value_or(false) && m.limit && *m.limit > 0) {
    const std::string usage_file = w.need("memory", mp + "limit") + "/memory.usage_in_bytes";
    uint64_t usage = parse_uint(read_cgroup_file(usage_file), usage_file);
    if (static_cast<uint64_t>(*m.limit) < usage)
      throw Error("set " + mp + "limit: " + std::to_string(*m.limit) + " is below the current usage " +
                  std::to_string(usage));
  }
  std::optional<int64_t> swap = m.swap;
  // Lifting the limit must lift memory+swap too, or the kernel refuses limit > memsw.
  if (m.limit && *m.limit == -1 && !swap &&
      file_exists(w.need("memory", mp + "limit") + "/memory.memsw.limit_in_bytes"))
    swap = -1;
  auto write_limit = [&] { w.set("memory", "memory.limit_in_bytes", std::to_string(*m.limit), mp + "limit"); };
  auto write_swap = [&] { w.set("memory", "memory.memsw.limit_in_bytes", std::to_string(*swap), mp + "swap"); };
  if (m.limit && swap) {
    // The kernel keeps limit <= memsw at every step: when the new limit is above the current
    // memsw, memsw has to go first.
    try {
      write_limit();
    } catch (const Error& e) {
      if (e.code() != EINVAL) throw;
      write_swap();
      write_limit();
      swap.reset();
    }
    if (swap) write_swap();
  } else if (m.limit) {
    write_limit();
  } else if (swap) {
    write_swap();
  }
  if (m.reservation) w.set("memory", "memory.soft_limit_in_bytes", std::to_string(*m.reservation), mp + "reservation");
  if (m.kernel) spdlog::debug("cgroups v1: ignoring {}kernel (deprecated; the kernel no longer enforces it)", mp);
  if (m.kernel_tcp) w.set("memory", "memory.kmem.tcp.limit_in_bytes", std::to_string(*m.kernel_tcp), mp + "kernelTCP");
  if (m.swappiness) w.set("memory", "memory.swappiness", std::to_string(*m.swappiness), mp + "swappiness");
  if (m.disable_oom_killer)
    w.set("memory", "memory.oom_control", *m.disable_oom_killer ? "1" : "0", mp + "disableOOMKiller");
  if (m.use_hierarchy) w.set("memory", "memory.use_hierarchy", *m.use_hierarchy ? "1" : "0", mp + "useHierarchy");
}

void apply_cpu(const CpuResources& c, const V1Writer& w) {
  const std::string cp = "linux.resources.cpu.";
  if (c.shares) w.set("cpu", "cpu.shares", std::to_string(*c.shares), cp + "shares");
  if (c.period) w.set("cpu", "cpu.cfs_period_us", std::to_string(*c.period), cp + "period");
  if (c.quota) w.set("cpu", "cpu.cfs_quota_us", std::to_string(*c.quota), cp + "quota");
  if (c.burst) w.set("cpu", "cpu.cfs_burst_us", std::to_string(*c.burst), cp + "burst");
  // The period first: the runtime is checked against it.
  if (c.realtime_period) w.set("cpu", "cpu.rt_period_us", std::to_string(*c.realtime_period), cp + "realtimePeriod");
  if (c.realtime_runtime) {
    // The kernel grants a group realtime time only out of its parent's budget (EINVAL beyond
    // it), and new groups, kiln/ included, start with none: say so instead of a bare EINVAL.
    const std::string& dir = w.need("cpu", cp + "realtimeRuntime");
    const std::string value = std::to_string(*c.realtime_runtime);
    try {
      write_setting(dir, "cpu.rt_runtime_us", value, cp + "realtimeRuntime");
    } catch (const Error& e) {
      if (e.code() != EINVAL || *c.realtime_runtime <= 0) throw;
      const std::string parent = dir.substr(0, dir.rfind('/'));
      std::string budget = "unknown";
      try {
        budget = read_file(parent + "/cpu.rt_runtime_us");
        while (!budget.empty() && budget.back() == '\n') budget.pop_back();
      } catch (const Error&) {
      }
      throw Error("set " + cp + "realtimeRuntime: " + value + " us is more than the parent cgroup " + parent +
                      " grants (its cpu.rt_runtime_us is " + budget + "): give the parent a realtime budget first",
                  EINVAL);
    }
  }
  if (c.idle) w.set("cpu", "cpu.idle", std::to_string(*c.idle), cp + "idle");
  if (c.cpus && !c.cpus->empty()) w.set("cpuset", "cpuset.cpus", *c.cpus, cp + "cpus");
  if (c.mems && !c.mems->empty()) w.set("cpuset", "cpuset.mems", *c.mems, cp + "mems");
}

// CFQ's blkio.weight is gone from current kernels; BFQ's takes the same values.
void apply_block_io(const BlockIoResources& io, const V1Writer& w) {
  const std::string bp = "linux.resources.blockIO.";
  if (io.empty()) return;
  const std::string& d = w.need("blkio", bp.substr(0, bp.size() - 1));
  const std::string prefix = file_exists(d + "/blkio.weight") ? "blkio." : "blkio.bfq.";
  if (io.weight) w.set("blkio", prefix + "weight", std::to_string(*io.weight), bp + "weight");
  if (io.leaf_weight) w.set("blkio", "blkio.leaf_weight", std::to_string(*io.leaf_weight), bp + "leafWeight");
  for (size_t i = 0; i < io.weight_device.size(); ++i) {
    const auto& wd = io.weight_device[i];
    const std::string s = bp + "weightDevice[" + std::to_string(i) + "]";
    if (wd.weight)
      w.set("blkio", prefix + "weight_device", device_number(wd.major, wd.minor) + " " + std::to_string(*wd.weight), s);
    if (wd.leaf_weight)
      w.set("blkio", "blkio.leaf_weight_device",
            device_number(wd.major, wd.minor) + " " + std::to_string(*wd.leaf_weight), s);
  }
  auto throttle = [&](const std::vector<ThrottleDevice>& list, const char* file, const char* name) {
    for (size_t i = 0; i < list.size(); ++i) {
      w.set("blkio", file, device_number(list[i].major, list[i].minor) + " " + std::to_string(list[i].rate),
            bp + name + "[" + std::to_string(i) + "]");
    }
  };
  throttle(io.throttle_read_bps_device, "blkio.throttle.read_bps_device", "throttleReadBpsDevice");
  throttle(io.throttle_write_bps_device, "blkio.throttle.write_bps_device", "throttleWriteBpsDevice");
  throttle(io.throttle_read_iops_device, "blkio.throttle.read_iops_device", "throttleReadIOPSDevice");
  throttle(io.throttle_write_iops_device, "blkio.throttle.write_iops_device", "throttleWriteIOPSDevice");
}

void apply_network(const NetworkResources& n, const V1Writer& w) {
  if (n.class_id) w.set("net_cls", "net_cls.classid", std::to_string(*n.class_id), "linux.resources.network.classID");
  for (size_t i = 0; i < n.priorities.size(); ++i) {
    const auto& p = n.priorities[i];
    w.set("net_prio", "net_prio.ifpriomap", p.name + " " + std::to_string(p.priority),
          "linux.resources.network.priorities[" + std::to_string(i) + "]");
  }
}

void apply_rdma(const std::map<std::string, RdmaLimit>& rdma, const V1Writer& w) {
  for (const auto& [name, limit] : rdma)
    w.set("rdma", "rdma.max", rdma_max_line(name, limit), "linux.resources.rdma." + name);
}

// "a" clears the list; then the spec's rules in order, then the defaults every container gets
// (last, as runc does, so a leading deny-all in the spec cannot drop them).
void apply_devices(const std::vector<DeviceRule>& devices, const V1Writer& w) {
  const std::string& d = w.need("devices", "linux.resources.devices");
  CgroupFileWriter allow(d + "/devices.allow"), deny(d + "/devices.deny");
  deny.write("a", "linux.resources.devices");
  for (size_t i = 0; i < devices.size(); ++i) {
    const auto& rule = devices[i];
    (rule.allow ? allow : deny).write(device_rule_line(rule), "linux.resources.devices[" + std::to_string(i) + "]");
  }
  for (const auto& rule : default_device_rules()) allow.write(device_rule_line(rule), "default devices");
}

}  // namespace

void V1Manager::apply_resources(const Resources& r, bool with_devices) {
  const V1Writer w{[this](const char* controller, const std::string& setting) -> const std::string& {
    return need(controller, setting);
  }};
  apply_memory(r.memory, w);
  apply_cpu(r.cpu, w);
  if (r.pids.limit)
    w.set("pids", "pids.max", *r.pids.limit > 0 ? std::to_string(*r.pids.limit) : "max", "linux.resources.pids.limit");
  apply_block_io(r.block_io, w);
  // hugetlb (on hybrid hosts it may live in the unified tree instead; the subclass does that)
  if (!hugetlb_elsewhere()) {
    for (size_t i = 0; i < r.hugepage_limits.size(); ++i) {
      const auto& h = r.hugepage_limits[i];
      w.set("hugetlb", "hugetlb." + h.page_size + ".limit_in_bytes", std::to_string(h.limit),
            "linux.resources.hugepageLimits[" + std::to_string(i) + "]");
    }
  }
  apply_network(r.network, w);
  apply_rdma(r.rdma, w);
  if (!r.unified.empty() && !unified_elsewhere())
    throw Error("set linux.resources.unified: needs cgroup v2, and " + mount_root_ + " is cgroup v1");
  if (with_devices) apply_devices(r.devices, w);
}

}  // namespace kiln::cgroups
