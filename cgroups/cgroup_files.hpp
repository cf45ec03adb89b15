// Reading and writing cgroup interface files. Every write error names the value, the file and
// the kernel's errno text, and (through write_setting) the linux.resources field behind it.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <sys/types.h>

#include "common/unique_fd.hpp"

namespace kiln::cgroups {

// Writes value to path in one write(2) (cgroupfs parses each write as one request).
// Throws "write VALUE to PATH: reason".
void write_cgroup_file(const std::string& path, std::string_view value);
// write_cgroup_file(dir + "/" + file), with "set SETTING: " in front of an error.
void write_setting(const std::string& dir, const std::string& file, std::string_view value, std::string_view setting);

// One open file taking many writes (devices.allow gets a dozen rules): saves an open per rule.
// Each write(2) is still one request to the kernel.
class CgroupFileWriter {
 public:
  explicit CgroupFileWriter(std::string path) : path_(std::move(path)) {}
  void write(std::string_view value, std::string_view setting);

 private:
  std::string path_;
  UniqueFd fd_;
};

std::string read_cgroup_file(const std::string& path);
std::optional<std::string> read_cgroup_file_if_exists(const std::string& path);

bool file_exists(const std::string& path);

// The pids in dir/cgroup.procs; empty when the cgroup is gone.
std::vector<pid_t> read_cgroup_procs(const std::string& dir);

// "123\n" -> 123; "max" -> UINT64_MAX. Throws naming path on garbage.
uint64_t parse_uint(std::string_view text, const std::string& path);
// A single-number file; nullopt when the file does not exist.
std::optional<uint64_t> read_uint_if_exists(const std::string& path);
// For stats: a read never fails the whole report, so a missing or unreadable value is 0.
uint64_t read_stat_or_zero(const std::string& path);
// "MAJOR:MINOR", as the device files of both hierarchies spell a device.
std::string device_number(int64_t major, int64_t minor);
// "key value\n" lines (memory.stat, cpu.stat, memory.events, memory.oom_control).
std::map<std::string, uint64_t> parse_flat_keyed(std::string_view content);
std::map<std::string, uint64_t> read_flat_keyed_if_exists(const std::string& path);

// The host's huge page sizes as cgroup files name them ("2MB", "1GB"), from /sys/kernel/mm/hugepages.
std::vector<std::string> hugepage_sizes();

// rmdir dir and every cgroup below it (a container may have made its own), deepest first,
// waiting up to 5 s for each to empty (a task just killed is still leaving: EBUSY). cgroupfs
// directories hold only interface files, which rmdir does not mind. A missing dir is fine.
void remove_cgroup_tree(const std::string& dir);

// "/a/b/c" -> "/a/b".
inline std::string parent_of(const std::string& dir) { return dir.substr(0, dir.rfind('/')); }

// Polls pred() with growing sleeps (from 100us) until it holds or timeout_ms passes.
template <typename Pred>
bool wait_for(Pred pred, int timeout_ms);
void sleep_us(long us);

template <typename Pred>
bool wait_for(Pred pred, int timeout_ms) {
  long waited = 0, step = 100;
  for (;;) {
    if (pred()) return true;
    if (waited >= static_cast<long>(timeout_ms) * 1000) return false;
    sleep_us(step);
    waited += step;
    if (step < 10000) step *= 2;
  }
}

}  // namespace kiln::cgroups
