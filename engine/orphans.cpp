// Settling the containers whose monitor died (see settle_orphaned in engine/monitor.hpp).
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdlib>

#include "common/clock.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "common/signals.hpp"
#include "engine/container_network.hpp"
#include "engine/monitor.hpp"
#include "engine/rootfs.hpp"
#include "runtime/state.hpp"

namespace kiln::engine {
namespace {

// The wait status of a process that has exited but was not reaped yet (a zombie: its new
// parent has not called wait), from /proc/PID/stat field 52; nullopt once it is reaped, or
// when the pid is another process now.
std::optional<int> unreaped_exit_status(pid_t pid, uint64_t start_time) {
  if (pid <= 0 || start_time == 0) return std::nullopt;
  std::optional<std::string> text;
  try {
    text = read_file_if_exists("/proc/" + std::to_string(pid) + "/stat");
  } catch (const Error&) {
    return std::nullopt;
  }
  if (!text) return std::nullopt;
  size_t close = text->rfind(')');
  if (close == std::string::npos || close + 2 >= text->size()) return std::nullopt;
  const char* p = text->c_str() + close + 2;
  if (*p != 'Z') return std::nullopt;
  std::vector<std::string> fields;  // fields[0] is field 3 (the state)
  std::string cur;
  for (; *p && *p != '\n'; ++p) {
    if (*p == ' ') {
      fields.push_back(cur);
      cur.clear();
    } else {
      cur += *p;
    }
  }
  fields.push_back(cur);
  if (fields.size() < 50) return std::nullopt;
  if (std::strtoull(fields[22 - 3].c_str(), nullptr, 10) != start_time) return std::nullopt;
  return static_cast<int>(std::strtol(fields[52 - 3].c_str(), nullptr, 10));
}

std::string short_name(const RunRecord& r) { return r.name.empty() ? r.id.substr(0, 12) : r.name; }

}  // namespace

std::string settle_orphaned(const RunRecords& records, RunRecord& r) {
  // monitor_pid 0: a record of an older kiln still being set up; never touch that.
  if (r.exit_code || !r.finished.empty() || r.monitor_pid <= 0) return "";
  if (r.monitor_pid == ::getpid() || runtime::process_alive(r.monitor_pid, r.monitor_start_time)) return "";
  if (records.status(r).process_alive) return "";
  // r was read before its monitor was seen gone: the monitor may have recorded the end (or, with
  // --rm, removed the record) and exited in between. Now that it cannot write, read again.
  try {
    RunRecord now = records.load(r.id);
    if (now.exit_code || !now.finished.empty()) {
      r = std::move(now);
      return "";
    }
  } catch (const Error&) {
    return "";
  }
  const std::string root = records.runtime_root();
  spdlog::debug("run {}: its monitor {} is gone and so is the container: settling it", r.id, r.monitor_pid);
  if (r.started.empty()) {
    // The kiln run (or its monitor) died before the container started: as if the run failed.
    remove_run_container(records, r, true);
    return "container " + short_name(r) + ": removed: the kiln run starting it died before it started";
  }
  std::optional<int> status;
  runtime::StateDir sd(root, r.id);
  if (sd.exists()) {
    try {
      runtime::ContainerState st = sd.load();
      if (auto w = unreaped_exit_status(st.pid, st.pid_start_time)) status = exit_status_from_wait(*w);
    } catch (const Error& e) {
      spdlog::debug("run {}: {}", r.id, e.what());
    }
  }
  std::string what = status ? "exited with status " + std::to_string(*status)
                            : std::string("exited, status unknown because the monitor died");
  if (r.auto_remove) {
    remove_run_container(records, r, true);
    return "container " + short_name(r) + ": " + what + "; removed (--rm)";
  }
  if (sd.exists()) runtime::delete_container(root, r.id, true);
  if (!r.rootfs.empty()) unmount_rootfs(r.rootfs);
  detach_network(records, r.id);
  r.exit_code = status;
  if (!status) r.exit_note = "status unknown because the monitor died";
  r.finished = now_rfc3339();
  records.save(r);
  return "container " + short_name(r) + ": " + what;
}

std::vector<std::string> settle_all_orphans(const RunRecords& records) {
  std::vector<std::string> notes;
  for (auto& r : records.list()) {
    try {
      std::string note = settle_orphaned(records, r);
      if (!note.empty()) notes.push_back(std::move(note));
    } catch (const Error& e) {
      notes.push_back("container " + short_name(r) + ": " + e.what());
    }
  }
  return notes;
}

}  // namespace kiln::engine
