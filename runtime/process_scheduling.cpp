#include "runtime/process_scheduling.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <string_view>

#include "common/error.hpp"
#include "common/json_fields.hpp"

namespace kiln::runtime {

using json = nlohmann::json;

namespace {

// The kernel's values (include/uapi/linux/sched.h); SCHED_ISO is reserved and never implemented.
constexpr std::array<std::pair<std::string_view, uint32_t>, 7> kSchedPolicies{{
    {"SCHED_OTHER", 0},
    {"SCHED_FIFO", 1},
    {"SCHED_RR", 2},
    {"SCHED_BATCH", 3},
    {"SCHED_ISO", 4},
    {"SCHED_IDLE", 5},
    {"SCHED_DEADLINE", 6},
}};
constexpr std::array<std::pair<std::string_view, uint64_t>, 7> kSchedFlags{{
    {"SCHED_FLAG_RESET_ON_FORK", 0x01},
    {"SCHED_FLAG_RECLAIM", 0x02},
    {"SCHED_FLAG_DL_OVERRUN", 0x04},
    {"SCHED_FLAG_KEEP_POLICY", 0x08},
    {"SCHED_FLAG_KEEP_PARAMS", 0x10},
    {"SCHED_FLAG_UTIL_CLAMP_MIN", 0x20},
    {"SCHED_FLAG_UTIL_CLAMP_MAX", 0x40},
}};
constexpr std::array<std::pair<std::string_view, int>, 3> kIoClasses{{
    {"IOPRIO_CLASS_RT", 1},
    {"IOPRIO_CLASS_BE", 2},
    {"IOPRIO_CLASS_IDLE", 3},
}};

// struct sched_attr as of Linux 4.13 (SCHED_ATTR_SIZE_VER1); glibc 2.36 does not declare it.
struct SchedAttr {
  uint32_t size;
  uint32_t sched_policy;
  uint64_t sched_flags;
  int32_t sched_nice;
  uint32_t sched_priority;
  uint64_t sched_runtime;
  uint64_t sched_deadline;
  uint64_t sched_period;
  uint32_t sched_util_min;
  uint32_t sched_util_max;
};

}  // namespace

Scheduler parse_scheduler(const json& s, const std::string& field) {
  using namespace json_fields;
  if (!s.is_object()) bad_field(field, "must be an object");
  Scheduler out;
  out.policy_name = as_string(required_member(s, "policy", field), field + ".policy");
  bool known = false;
  for (const auto& [name, value] : kSchedPolicies)
    if (name == out.policy_name) {
      out.policy = value;
      known = true;
    }
  if (!known) bad_field(field + ".policy", "unknown policy \"" + out.policy_name + "\"");
  if (out.policy_name == "SCHED_ISO") bad_field(field + ".policy", "SCHED_ISO is not implemented by Linux");
  if (auto nice = opt_int(s, "nice", field)) {
    if (*nice < -20 || *nice > 19) bad_field(field + ".nice", "must be between -20 and 19");
    out.nice = static_cast<int32_t>(*nice);
  }
  if (auto priority = opt_int(s, "priority", field)) {
    const bool realtime = out.policy_name == "SCHED_FIFO" || out.policy_name == "SCHED_RR";
    if (*priority != 0 && !realtime) bad_field(field + ".priority", "only SCHED_FIFO and SCHED_RR take a priority");
    if (realtime && (*priority < 1 || *priority > 99)) bad_field(field + ".priority", "must be between 1 and 99");
    out.priority = static_cast<uint32_t>(*priority);
  }
  for (const std::string& name : string_list(s, "flags", field)) {
    bool found = false;
    for (const auto& [n, bit] : kSchedFlags)
      if (n == name) {
        out.flags |= bit;
        found = true;
      }
    if (!found) bad_field(field + ".flags", "unknown flag \"" + name + "\"");
  }
  out.runtime = opt_uint(s, "runtime", field).value_or(0);
  out.deadline = opt_uint(s, "deadline", field).value_or(0);
  out.period = opt_uint(s, "period", field).value_or(0);
  if (out.policy_name == "SCHED_DEADLINE") {
    // The kernel's own rule (sched_setattr(2)): runtime <= deadline <= period (0: = deadline).
    if (out.runtime == 0 || out.deadline == 0) bad_field(field, "SCHED_DEADLINE needs a runtime and a deadline");
    if (out.runtime > out.deadline || (out.period && out.deadline > out.period))
      bad_field(field, "SCHED_DEADLINE needs runtime <= deadline <= period");
  } else if (out.runtime || out.deadline || out.period) {
    bad_field(field, "runtime, deadline and period are for SCHED_DEADLINE only");
  }
  return out;
}

IoPriority parse_io_priority(const json& p, const std::string& field) {
  using namespace json_fields;
  if (!p.is_object()) bad_field(field, "must be an object");
  IoPriority out;
  std::string name = as_string(required_member(p, "class", field), field + ".class");
  for (const auto& [n, value] : kIoClasses)
    if (n == name) out.io_class = value;
  if (out.io_class == 0) bad_field(field + ".class", "unknown class \"" + name + "\"");
  int64_t priority = as_int(required_member(p, "priority", field), field + ".priority");
  if (priority < 0 || priority > 7) bad_field(field + ".priority", "must be between 0 and 7");
  out.priority = static_cast<int>(priority);
  return out;
}

void apply_scheduler(const Scheduler& s) {
  SchedAttr attr{};
  attr.size = sizeof attr;
  attr.sched_policy = s.policy;
  attr.sched_flags = s.flags;
  attr.sched_nice = s.nice;
  attr.sched_priority = s.priority;
  attr.sched_runtime = s.runtime;
  attr.sched_deadline = s.deadline;
  attr.sched_period = s.period;
  if (::syscall(SYS_sched_setattr, 0, &attr, 0) != 0) throw_errno("process.scheduler: set " + s.policy_name);
}

void apply_io_priority(const IoPriority& p) {
  constexpr int kWhoProcess = 1, kClassShift = 13;
  if (::syscall(SYS_ioprio_set, kWhoProcess, 0, (p.io_class << kClassShift) | p.priority) != 0)
    throw_errno("process.ioPriority: set I/O priority");
}

}  // namespace kiln::runtime
