// Stats from cgroup v2 files (missing files leave zeros). Microseconds become nanoseconds so
// the JSON carries the same units on v1 and v2.
#include <limits>
#include <sstream>

#include "cgroups/cgroup_files.hpp"
#include "common/error.hpp"
#include "cgroups/v2_manager.hpp"

namespace kiln::cgroups {
namespace {

uint64_t limit_or_zero(const std::string& path) {
  uint64_t v = read_stat_or_zero(path);
  return v == std::numeric_limits<uint64_t>::max() ? 0 : v;
}

// io.stat: "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0" per device.
void read_io_stat(const std::string& path, BlkioStats& out) {
  auto content = read_cgroup_file_if_exists(path);
  if (!content) return;
  std::istringstream in(*content);
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string dev;
    if (!(fields >> dev)) continue;
    auto colon = dev.find(':');
    if (colon == std::string::npos) continue;
    uint64_t major = std::stoull(dev.substr(0, colon)), minor = std::stoull(dev.substr(colon + 1));
    for (std::string kv; fields >> kv;) {
      auto eq = kv.find('=');
      if (eq == std::string::npos) continue;
      std::string key = kv.substr(0, eq);
      uint64_t value = std::stoull(kv.substr(eq + 1));
      if (key == "rbytes") out.io_service_bytes_recursive.push_back({major, minor, "Read", value});
      if (key == "wbytes") out.io_service_bytes_recursive.push_back({major, minor, "Write", value});
      if (key == "rios") out.io_serviced_recursive.push_back({major, minor, "Read", value});
      if (key == "wios") out.io_serviced_recursive.push_back({major, minor, "Write", value});
    }
  }
}

}  // namespace

Stats V2Manager::stats() {
  Stats s;
  const std::string d = dir_ + "/";
  s.memory.usage.usage = read_stat_or_zero(d + "memory.current");
  s.memory.usage.limit = limit_or_zero(d + "memory.max");
  s.memory.usage.max = read_stat_or_zero(d + "memory.peak");
  s.memory.swap.usage = read_stat_or_zero(d + "memory.swap.current");
  s.memory.swap.limit = limit_or_zero(d + "memory.swap.max");
  s.memory.raw = read_flat_keyed_if_exists(d + "memory.stat");
  if (auto it = s.memory.raw.find("file"); it != s.memory.raw.end()) s.memory.cache = it->second;
  auto events = read_flat_keyed_if_exists(d + "memory.events");
  s.memory.usage.failcnt = events["max"];
  s.memory.oom_kill = events["oom_kill"];
  s.memory.use_hierarchy = true;

  auto cpu = read_flat_keyed_if_exists(d + "cpu.stat");
  s.cpu.total = cpu["usage_usec"] * 1000;
  s.cpu.user = cpu["user_usec"] * 1000;
  s.cpu.system = cpu["system_usec"] * 1000;
  s.cpu.periods = cpu["nr_periods"];
  s.cpu.throttled_periods = cpu["nr_throttled"];
  s.cpu.throttled_time = cpu["throttled_usec"] * 1000;

  s.pids.current = read_stat_or_zero(d + "pids.current");
  s.pids.limit = limit_or_zero(d + "pids.max");

  read_io_stat(d + "io.stat", s.blkio);

  for (const auto& size : hugepage_sizes()) {
    auto usage = read_uint_if_exists(d + "hugetlb." + size + ".current");
    if (!usage) continue;
    auto ev = read_flat_keyed_if_exists(d + "hugetlb." + size + ".events");
    s.hugetlb[size] = HugetlbStats{*usage, 0, ev["max"]};
  }
  return s;
}

}  // namespace kiln::cgroups
