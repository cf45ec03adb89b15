// Stats: what a manager reads back from the kernel, and its `kiln-runtime events --stats`
// JSON form (the shape runc prints, so tools that parse runc's output parse ours).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace kiln::cgroups {

struct MemoryEntry {
  uint64_t usage = 0;
  uint64_t max = 0;  // high-water mark (v1 only; v2 memory.peak where present)
  uint64_t failcnt = 0;
  uint64_t limit = 0;
};

struct MemoryStats {
  uint64_t cache = 0;
  MemoryEntry usage;
  MemoryEntry swap;  // v1: memsw (memory+swap); v2: swap alone
  MemoryEntry kernel;
  MemoryEntry kernel_tcp;
  uint64_t oom_kill = 0;  // memory.events oom_kill / memory.oom_control oom_kill
  bool use_hierarchy = false;
  std::map<std::string, uint64_t> raw;  // memory.stat as read
};

struct CpuStats {
  uint64_t total = 0;   // nanoseconds
  uint64_t user = 0;    // nanoseconds
  uint64_t system = 0;  // nanoseconds
  std::vector<uint64_t> percpu;
  uint64_t periods = 0;
  uint64_t throttled_periods = 0;
  uint64_t throttled_time = 0;  // nanoseconds
};

struct PidsStats {
  uint64_t current = 0;
  uint64_t limit = 0;  // 0 = unlimited
};

struct BlkioEntry {
  uint64_t major = 0;
  uint64_t minor = 0;
  std::string op;  // "Read", "Write", "Sync", "Async", "Discard", "Total"
  uint64_t value = 0;
};

struct BlkioStats {
  std::vector<BlkioEntry> io_service_bytes_recursive;
  std::vector<BlkioEntry> io_serviced_recursive;
};

struct HugetlbStats {
  uint64_t usage = 0;
  uint64_t max = 0;
  uint64_t failcnt = 0;
};

struct Stats {
  CpuStats cpu;
  MemoryStats memory;
  PidsStats pids;
  BlkioStats blkio;
  std::map<std::string, HugetlbStats> hugetlb;  // page size ("2MB") -> stats
};

// {"type":"stats","id":ID,"data":{"cpu":...,"memory":...,"pids":...,"blkio":...,"hugetlb":...}}
nlohmann::json stats_to_events_json(const Stats& stats, const std::string& id);

}  // namespace kiln::cgroups
