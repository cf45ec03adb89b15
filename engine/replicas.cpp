#include "engine/replicas.hpp"

#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <thread>

#include "common/error.hpp"
#include "common/failpoint.hpp"
#include "common/files.hpp"
#include "common/process.hpp"
#include "common/stage_clock.hpp"
#include "engine/port_spec.hpp"
#include "engine/run_shared.hpp"

namespace kiln::engine {
namespace {

// Flags that name one thing N containers cannot all have.
void check_replicable(const RunRequest& f, int n) {
  if (n < 1 || n > 10000) throw Error("replicas " + std::to_string(n) + ": must be between 1 and 10000");
  if (!f.detach) throw Error("--replicas needs -d: the replicas run detached");
  if (f.rm) throw Error("--replicas with --rm is not supported: replicas stay until kiln rm");
  if (f.interactive || f.tty) throw Error("--replicas with -i or -t is not supported: there is one terminal");
  if (!f.ip.empty())
    throw Error("--replicas with --ip is not supported: one address cannot go to " + std::to_string(n) + " containers");
  for (const auto& p : f.publish)
    if (parse_port_spec(p).host_port != 0)
      throw Error("--replicas with -p " + p + " is not supported: one host port cannot go to " + std::to_string(n) +
                  " containers (-p CONTAINERPORT gives each a free one)");
}

std::string one_line(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s;
}

// In a worker: replica `index`, as `kiln run -d` would make it; never throws.
ReplicaResult run_replica(const RunRequest& f, const PreparedRun& prepared, int index) {
  ReplicaResult r;
  r.index = index;
  RunRequest one = f;
  if (!f.name.empty()) one.name = f.name + "-" + std::to_string(index);
  r.name = one.name;
  try {
    KILN_FAILPOINT("replica-start");
    r.id = run_prepared(one, prepared).id;
  } catch (const Error& e) {
    r.status = e.kind() == ErrorKind::exec ? (e.code() == ENOENT ? 127 : 126) : 125;
    r.error = one_line(e.kind() == ErrorKind::exec ? e.origin() : e.what());
  } catch (const std::exception& e) {
    r.status = 125;
    r.error = one_line(std::string("internal error: ") + e.what());
  }
  return r;
}

// Where workers put their results: a MAP_SHARED anonymous mapping, one fixed slot per
// replica. Not a pipe: every monitor a worker forks would inherit its write end and keep kiln
// waiting for EOF as long as that container runs.
class ResultSlots {
 public:
  struct Slot {
    int done;
    int status;
    char id[80];
    char error[1024];
  };
  explicit ResultSlots(int n) : size_(sizeof(Slot) * static_cast<size_t>(n)) {
    void* p = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw_errno("map the replicas' result slots");
    slots_ = static_cast<Slot*>(p);
  }
  ~ResultSlots() { ::munmap(slots_, size_); }
  ResultSlots(const ResultSlots&) = delete;
  ResultSlots& operator=(const ResultSlots&) = delete;
  Slot& operator[](int index) { return slots_[index - 1]; }

  static void put(char* dst, size_t cap, const std::string& s) {
    size_t n = std::min(s.size(), cap - 1);
    std::memcpy(dst, s.data(), n);
    dst[n] = '\0';
  }

 private:
  size_t size_;
  Slot* slots_;
};

// A worker process: replicas first, first + step, ... one after the other.
[[noreturn]] void worker_main(const RunRequest& f, const PreparedRun& prepared, int first, int step, int n,
                              ResultSlots& slots) {
  for (int i = first; i <= n; i += step) {
    ReplicaResult r = run_replica(f, prepared, i);
    ResultSlots::Slot& slot = slots[i];
    slot.status = r.status;
    ResultSlots::put(slot.id, sizeof slot.id, r.id);
    ResultSlots::put(slot.error, sizeof slot.error, r.error);
    slot.done = 1;
  }
  ::_exit(0);
}

unsigned worker_count(int n) {
  // Twice the CPUs: a worker spends part of each replica waiting for its monitor's report.
  unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
  return std::min(static_cast<unsigned>(n), 2 * cpus);
}

}  // namespace

std::vector<ReplicaResult> run_replicas(const RunRequest& f, int n) {
  check_replicable(f, n);
  PreparedRun prepared = prepare_run(f);
  const unsigned workers = worker_count(n);
  log_stage("replicas start");
  ResultSlots slots(n);
  std::vector<Child> running;
  std::fflush(nullptr);
  for (unsigned w = 0; w < workers; ++w) {
    pid_t pid = ::fork();
    if (pid < 0) throw_errno("fork a worker for the replicas");
    if (pid == 0) worker_main(f, prepared, static_cast<int>(w) + 1, static_cast<int>(workers), n, slots);
    running.emplace_back(pid);
  }
  for (auto& w : running) w.wait();
  log_stage("replicas done");
  std::vector<ReplicaResult> results;
  for (int i = 1; i <= n; ++i) {
    const ResultSlots::Slot& slot = slots[i];
    ReplicaResult r;
    r.index = i;
    if (!f.name.empty()) r.name = f.name + "-" + std::to_string(i);
    if (slot.done) {
      r.status = slot.status;
      r.id = slot.id;
      r.error = slot.error;
    } else {
      r.status = 125;
      r.error = "its worker died before it was made";
    }
    results.push_back(std::move(r));
  }
  return results;
}

}  // namespace kiln::engine
