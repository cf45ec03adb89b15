// Stats from cgroup v1 files. Missing files (a controller that is not mounted, swap accounting
// off) leave zeros: `events --stats` reports what the host has.
#include <unistd.h>

#include <limits>
#include <sstream>

#include "cgroups/cgroup_files.hpp"
#include "common/error.hpp"
#include "cgroups/v1_manager.hpp"

namespace kiln::cgroups {
namespace {

MemoryEntry memory_entry(const std::string& dir, const std::string& prefix) {
  MemoryEntry e;
  e.usage = read_stat_or_zero(dir + "/" + prefix + "usage_in_bytes");
  e.max = read_stat_or_zero(dir + "/" + prefix + "max_usage_in_bytes");
  e.failcnt = read_stat_or_zero(dir + "/" + prefix + "failcnt");
  e.limit = read_stat_or_zero(dir + "/" + prefix + "limit_in_bytes");
  return e;
}

// blkio.throttle.io_service_bytes_recursive: "8:0 Read 4096" lines and a final "Total N".
std::vector<BlkioEntry> blkio_entries(const std::string& path) {
  std::vector<BlkioEntry> out;
  auto content = read_cgroup_file_if_exists(path);
  if (!content) return out;
  std::istringstream in(*content);
  std::string dev, op;
  uint64_t value = 0;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    if (!(fields >> dev >> op >> value)) continue;
    auto colon = dev.find(':');
    if (colon == std::string::npos) continue;
    BlkioEntry e;
    e.major = std::stoull(dev.substr(0, colon));
    e.minor = std::stoull(dev.substr(colon + 1));
    e.op = op;
    e.value = value;
    out.push_back(e);
  }
  return out;
}

}  // namespace

Stats V1Manager::stats() {
  Stats s;
  if (auto d = dir("memory"); !d.empty()) {
    s.memory.usage = memory_entry(d, "memory.");
    s.memory.swap = memory_entry(d, "memory.memsw.");
    s.memory.kernel = memory_entry(d, "memory.kmem.");
    s.memory.kernel_tcp = memory_entry(d, "memory.kmem.tcp.");
    s.memory.raw = read_flat_keyed_if_exists(d + "/memory.stat");
    if (auto it = s.memory.raw.find("cache"); it != s.memory.raw.end()) s.memory.cache = it->second;
    s.memory.use_hierarchy = read_stat_or_zero(d + "/memory.use_hierarchy") == 1;
    s.memory.oom_kill = oom_kill_count();
  }
  if (auto d = dir("cpuacct"); !d.empty()) {
    s.cpu.total = read_stat_or_zero(d + "/cpuacct.usage");
    if (auto percpu = read_cgroup_file_if_exists(d + "/cpuacct.usage_percpu")) {
      std::istringstream in(*percpu);
      uint64_t v = 0;
      while (in >> v) s.cpu.percpu.push_back(v);
    }
    // cpuacct.stat counts USER_HZ ticks; the JSON wants nanoseconds like the total.
    auto ticks = read_flat_keyed_if_exists(d + "/cpuacct.stat");
    const uint64_t ns_per_tick = 1000000000ULL / static_cast<uint64_t>(::sysconf(_SC_CLK_TCK));
    s.cpu.user = ticks["user"] * ns_per_tick;
    s.cpu.system = ticks["system"] * ns_per_tick;
  }
  if (auto d = dir("cpu"); !d.empty()) {
    auto st = read_flat_keyed_if_exists(d + "/cpu.stat");
    s.cpu.periods = st["nr_periods"];
    s.cpu.throttled_periods = st["nr_throttled"];
    s.cpu.throttled_time = st["throttled_time"];
  }
  if (auto d = dir("pids"); !d.empty()) {
    s.pids.current = read_stat_or_zero(d + "/pids.current");
    uint64_t max = read_stat_or_zero(d + "/pids.max");
    s.pids.limit = max == std::numeric_limits<uint64_t>::max() ? 0 : max;
  }
  if (auto d = dir("blkio"); !d.empty()) {
    s.blkio.io_service_bytes_recursive = blkio_entries(d + "/blkio.throttle.io_service_bytes_recursive");
    s.blkio.io_serviced_recursive = blkio_entries(d + "/blkio.throttle.io_serviced_recursive");
  }
  if (auto d = dir("hugetlb"); !d.empty()) {
    for (const auto& size : hugepage_sizes()) {
      const std::string base = d + "/hugetlb." + size + ".";
      auto usage = read_uint_if_exists(base + "usage_in_bytes");
      if (!usage) continue;
      s.hugetlb[size] =
          HugetlbStats{*usage, read_stat_or_zero(base + "max_usage_in_bytes"), read_stat_or_zero(base + "failcnt")};
    }
  }
  return s;
}

}  // namespace kiln::cgroups
