// process.scheduler (sched_setattr) and process.ioPriority (ioprio_set), runtime-spec 1.2:
// parsed and checked with the spec's rules when config.json is read, applied to the container's
// process (and to each exec'd one) while the runtime still has its privileges.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace kiln::runtime {

struct Scheduler {
  std::string policy_name;
  uint32_t policy = 0;
  int32_t nice = 0;
  uint32_t priority = 0;
  uint64_t flags = 0;
  uint64_t runtime = 0, deadline = 0, period = 0;  // ns, SCHED_DEADLINE only
};

struct IoPriority {
  int io_class = 0;  // IOPRIO_CLASS_RT 1, BE 2, IDLE 3
  int priority = 0;  // 0 (highest) .. 7
};

Scheduler parse_scheduler(const nlohmann::json& scheduler, const std::string& field);
IoPriority parse_io_priority(const nlohmann::json& io_priority, const std::string& field);

void apply_scheduler(const Scheduler& scheduler);
void apply_io_priority(const IoPriority& io_priority);

}  // namespace kiln::runtime
