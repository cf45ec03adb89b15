// Running a `kiln run` container once its record, rootfs and spec exist.
//
// Foreground: kiln itself is the monitor: run_container() attaches stdio (or relays the pty),
// forwards signals and returns the status; kiln records it and cleans up.
//
// Detached: kiln forks a monitor (like conmon) and returns once the container runs. The
// monitor: setsid, stdin from /dev/null, stdout/stderr into the record's log file, create (the
// container's init is the monitor's child, so it can be waited for), start, report "started" or
// the create error back to kiln over a pipe, wait, record the exit status and finish time,
// unmount the rootfs, and with --rm remove everything. The spec (which may carry secrets) only
// ever lives in the two processes' memory.
//
// --timeout: a small timer child kills the container after N seconds; the status is then 124.
#pragma once
#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "runtime/lifecycle.hpp"
#include "engine/records.hpp"

namespace kiln::engine {

struct RunJob {
  RunRecords records;
  RunRecord record;  // created on disk, rootfs mounted
  nlohmann::json spec;
  std::vector<runtime::DetachedMount> detached_mounts;
};

// Returns the container's exit status (124 after --timeout). Throws when it cannot start.
int run_attached(RunJob& job);
// Returns once the container runs; throws the reason it did not start.
void run_detached(RunJob& job);

// The end of a detached container whose monitor waited as kiln-monitor: reap (after killing it,
// when status is empty: its --timeout passed), then what the monitor does after the wait.
void finish_detached(const RunRecords& records, const std::string& id, pid_t pid, std::optional<int> status);

// Everything a container has, gone: its processes (killed), cgroup and runtime state, rootfs
// mount, container dir, image pin and record. Idempotent; without force a running container is
// an error ("container X is running: stop it first or use rm -f").
void remove_run_container(const RunRecords& records, const RunRecord& record, bool force);

// A container whose monitor (or foreground kiln) died without recording an end (SIGKILL, the
// OOM killer): while its process lives it is running, and kiln says so. Once the process is
// gone this does what the monitor would have: a run that never started, or one with --rm, is
// removed entirely; otherwise its runtime state (cgroups) goes, the rootfs is unmounted and
// the end is recorded, with the exit status when the kernel still has it (an unreaped zombie)
// and else the note "status unknown because the monitor died". Returns what it did, worded
// for the one command that settles it to say (empty: nothing to settle).
std::string settle_orphaned(const RunRecords& records, RunRecord& record);
// settle_orphaned for every record; the notes of those it settled.
std::vector<std::string> settle_all_orphans(const RunRecords& records);

// Undoes a half-made `kiln run` unless committed: one clear error, nothing left behind.
class RunGuard {
 public:
  RunGuard(const RunRecords& records, const RunRecord& record) : records_(records), record_(record) {}
  ~RunGuard();
  RunGuard(const RunGuard&) = delete;
  RunGuard& operator=(const RunGuard&) = delete;
  void commit() { committed_ = true; }

 private:
  const RunRecords& records_;
  const RunRecord& record_;
  bool committed_ = false;
};

// Sends sig to the container's processes (SIGKILL: all of them).
void signal_run_container(const RunRecords& records, const RunRecord& record, int sig);
// SIGTERM (or the given signal), then SIGKILL after timeout_seconds; returns once it has exited.
void stop_run_container(const RunRecords& records, const RunRecord& record, int timeout_seconds);

}  // namespace kiln::engine
