// --debug's stage lines: "stage <CLOCK_MONOTONIC in µs> <name>", one where each step of a start
// begins, so that bench/profile.sh can turn one run into a table of durations (a stage lasts
// until the next line's timestamp). Monotonic microseconds compare across the processes of one
// start (kiln, its monitor, the container's init); sort the lines by their number.
//
// The cloned init is not the place for a log call (a copy of the parent, in the middle of a
// clone; its stderr may be the container's): it stamps a page shared with the parent, with no
// allocation and no lock, and the parent logs those stamps once the init said ready, exec'd or
// failed (ChildStageStamps::log_new).
#pragma once
#include <atomic>
#include <cstdint>
#include <string_view>

namespace kiln {

int64_t monotonic_us() noexcept;

// True when --debug is on (the stage lines are debug lines).
bool stage_logging_enabled();
// Logs "stage T NAME" at debug level; T is now unless given.
void log_stage(std::string_view name, int64_t at_us = 0);

// A MAP_SHARED anonymous page the parent maps before clone; the child stamps it, the parent
// reads it. Empty (stamp() does nothing) unless stage logging is on.
class ChildStageStamps {
 public:
  ChildStageStamps();  // maps the page only when stage_logging_enabled()
  ~ChildStageStamps();
  ChildStageStamps(const ChildStageStamps&) = delete;
  ChildStageStamps& operator=(const ChildStageStamps&) = delete;

  // In the child: async-signal-safe (clock_gettime from the vDSO, a copy into the page). Long
  // names are cut to what the slot holds.
  void stamp(std::string_view name) noexcept { stamp(name, {}); }
  void stamp(std::string_view prefix, std::string_view name) noexcept;  // "prefix" + "name"
  // In the parent: logs the stamps not logged yet, in order.
  void log_new();

 private:
  static constexpr int kSlots = 48;
  static constexpr int kNameBytes = 40;
  struct Slot {
    int64_t us;
    char name[kNameBytes];
  };
  struct Page {
    std::atomic<int> count;
    Slot slots[kSlots];
  };
  Page* page_ = nullptr;
  int logged_ = 0;
};

}  // namespace kiln
