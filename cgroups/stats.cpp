#include "cgroups/stats.hpp"

#include <nlohmann/json.hpp>

namespace kiln::cgroups {

using json = nlohmann::json;
namespace {

json entry_json(const MemoryEntry& e) {
  return json{{"limit", e.limit}, {"usage", e.usage}, {"max", e.max}, {"failcnt", e.failcnt}};
}

json blkio_list(const std::vector<BlkioEntry>& entries) {
  json out = json::array();
  for (const auto& e : entries)
    out.push_back({{"major", e.major}, {"minor", e.minor}, {"op", e.op}, {"value", e.value}});
  return out;
}

}  // namespace

json stats_to_events_json(const Stats& s, const std::string& id) {
  json cpu = {
      {"usage", {{"total", s.cpu.total}, {"percpu", s.cpu.percpu}, {"kernel", s.cpu.system}, {"user", s.cpu.user}}},
      {"throttling",
       {{"periods", s.cpu.periods},
        {"throttledPeriods", s.cpu.throttled_periods},
        {"throttledTime", s.cpu.throttled_time}}},
  };
  json raw = json::object();
  for (const auto& [k, v] : s.memory.raw) raw[k] = v;
  json memory = {
      {"cache", s.memory.cache},
      {"usage", entry_json(s.memory.usage)},
      {"swap", entry_json(s.memory.swap)},
      {"kernel", entry_json(s.memory.kernel)},
      {"kernelTCP", entry_json(s.memory.kernel_tcp)},
      {"oom_kill", s.memory.oom_kill},
      {"raw", raw},
  };
  json hugetlb = json::object();
  for (const auto& [size, h] : s.hugetlb) hugetlb[size] = {{"usage", h.usage}, {"max", h.max}, {"failcnt", h.failcnt}};
  json data = {
      {"cpu", cpu},
      {"memory", memory},
      {"pids", {{"current", s.pids.current}, {"limit", s.pids.limit}}},
      {"blkio",
       {{"ioServiceBytesRecursive", blkio_list(s.blkio.io_service_bytes_recursive)},
        {"ioServicedRecursive", blkio_list(s.blkio.io_serviced_recursive)}}},
      {"hugetlb", hugetlb},
  };
  return json{{"type", "stats"}, {"id", id}, {"data", data}};
}

}  // namespace kiln::cgroups
