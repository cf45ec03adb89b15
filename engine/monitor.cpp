#include "engine/monitor.hpp"

#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <linux/close_range.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.hpp"
#include "common/error.hpp"
#include "common/failpoint.hpp"
#include "common/files.hpp"
#include "common/logging.hpp"
#include "common/stage_clock.hpp"
#include "common/signals.hpp"
#include "common/process.hpp"
#include "common/sealed_exe.hpp"
#include "common/unique_fd.hpp"
#include "engine/container_network.hpp"
#include "engine/monitor_report.hpp"
#include "engine/rootfs.hpp"
#include "image/image_store.hpp"
#include "runtime/state.hpp"

namespace kiln::engine {
using runtime::create_container;
using runtime::CreateOptions;
using runtime::delete_container;
using runtime::kill_container;
using runtime::process_alive;
using runtime::process_start_time;
using runtime::run_container;
using runtime::start_container;
using runtime::StateDir;
namespace {

CreateOptions create_options(const RunJob& job) {
  CreateOptions o;
  o.root = job.records.runtime_root();
  o.id = job.record.id;
  o.bundle = job.records.dir(job.record.id);  // config.json without the env (engine/run.cpp)
  o.config = job.spec;
  o.detached_mounts = job.detached_mounts;
  return o;
}

// --timeout: a child that sleeps, then SIGKILLs every process of the container and exits 124.
// It dies with its parent (PDEATHSIG), so it can never outlive the monitor. Before it kills, it
// writes a byte to a pipe: the monitor may see the container die (and kill the timer) before
// the timer has exited, so the exit status alone cannot say whether it fired.
class Timer {
 public:
  Timer(const std::string& root, const std::string& id, int seconds) {
    if (seconds <= 0) return;
    Pipe fired = make_pipe(O_NONBLOCK);
    pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) throw_errno("fork the --timeout timer");
    if (pid > 0) {
      child_ = Child(pid);
      fired_ = std::move(fired.read);
      return;
    }
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(0);
    struct timespec ts = {seconds, 0};
    while (::clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR) {
    }
    if (::write(fired.write.get(), "!", 1) != 1) ::_exit(1);
    // The container may still be being created: retry for a little while.
    for (int i = 0; i < 100; ++i) {
      try {
        kill_container(root, id, SIGKILL, true);
        ::_exit(124);
      } catch (const std::exception&) {
        ::usleep(50 * 1000);
      }
    }
    ::_exit(124);
  }
  ~Timer() = default;  // the Child kills and reaps it
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  // True when it fired.
  bool stop() {
    if (!child_) return false;
    ::kill(child_.pid(), SIGKILL);
    int st = child_.wait();
    char c = 0;
    return (WIFEXITED(st) && WEXITSTATUS(st) == 124) || ::read(fired_.get(), &c, 1) == 1;
  }

 private:
  Child child_;
  UniqueFd fired_;
};

// The container has exited: record it, unmount, and with --rm remove everything.
void finish(RunJob& job, int status, bool timed_out) {
  log_stage("finish");
  RunRecord& r = job.record;
  r.exit_code = status;
  r.timed_out = timed_out;
  r.finished = now_rfc3339();
  spdlog::debug("run {}: exited with status {}{}", r.id, status, timed_out ? " (timeout)" : "");
  unmount_rootfs(r.rootfs);
  log_stage("network detach");
  detach_network(job.records, r.id);  // its ports are free at once
  if (r.auto_remove) remove_run_container(job.records, r, true);
  else job.records.save(r);
}

// kiln-monitor, beside kiln (the build tree) or in libexec/kiln (installed); "" when neither.
std::string small_monitor_program() {
  std::string exe = original_exe_path();
  std::string dir = exe.substr(0, exe.rfind('/'));
  for (const std::string& path : {dir + "/kiln-monitor", dir + "/../libexec/kiln/kiln-monitor"})
    if (::access(path.c_str(), X_OK) == 0) return path;
  return "";
}

int64_t monotonic_ns() {
  struct timespec ts = {};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

// The monitor, once the container runs, becomes kiln-monitor (exec: same pid, still the init's
// parent), which waits with none of kiln's memory and runs `kiln monitor-finish` at the end.
// Returns only when the exec failed; the caller then waits itself.
void exec_small_monitor(const std::string& program, const RunJob& job, pid_t pid, int64_t deadline_ns) {
  const std::string pid_text = std::to_string(pid);
  std::vector<std::string> args = {
      program,          pid_text,     std::to_string(deadline_ns), "--",    original_exe_path(),
      "monitor-finish", "--run-root", job.records.run_root(),      "--pid", pid_text,
      job.record.id};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  ::execv(argv[0], argv.data());
  spdlog::warn("monitor {}: cannot run {} ({}): waiting in kiln", job.record.id, program, std::strerror(errno));
}

constexpr int kShortRunMs = 50;

// True when pid (a child) exits within ms milliseconds; it is left to be reaped.
bool exits_within(pid_t pid, int ms) {
  UniqueFd fd = try_open_pidfd(pid);
  if (!fd) return true;
  struct pollfd p = {fd.get(), POLLIN, 0};
  int n;
  while ((n = ::poll(&p, 1, ms)) < 0 && errno == EINTR) {
  }
  return n > 0;
}

[[noreturn]] void monitor_main(RunJob& job, UniqueFd report_pipe) {
  const int report_fd = report_pipe.get();
  bool reported = false;
  int code = 1;
  // --debug: the stage lines up to the report still go to kiln's stderr, not the container's log.
  UniqueFd debug_stderr(stage_logging_enabled() ? ::fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3) : -1);
  if (debug_stderr) set_log_stderr_fd(debug_stderr.get());
  log_stage("monitor");
  // Whatever kiln's caller left open (a lock, a pipe a script waits on) must not live as long
  // as the container: nothing past stdio survives the exec into kiln-monitor.
  ::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
  try {
    ::setsid();
    ::signal(SIGHUP, SIG_IGN);
    ::signal(SIGPIPE, SIG_IGN);
    UniqueFd null = open_file("/dev/null", O_RDONLY);
    UniqueFd log = open_file(job.records.log_path(job.record.id), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (::dup2(null.get(), 0) < 0 || ::dup2(log.get(), 1) < 0 || ::dup2(log.get(), 2) < 0)
      throw_errno("monitor: redirect stdio");
    RunRecord& r = job.record;
    r.monitor_pid = ::getpid();
    r.monitor_start_time = process_start_time(r.monitor_pid);
    job.records.save(r);
    const std::string root = job.records.runtime_root();
    log_stage("runtime create");
    create_container(create_options(job));
    // The init's pid from the state file: the state's JSON says 0 once it has exited, which a
    // container running `true` may have done before we look.
    const pid_t pid = StateDir(root, r.id).load().pid;
    try {
      start_container(root, r.id);
    } catch (...) {
      try {
        delete_container(root, r.id, true);
      } catch (const std::exception&) {
      }
      throw;
    }
    log_stage("record save");
    r.started = now_rfc3339();
    job.records.save(r);
    // The small monitor keeps the --timeout deadline itself; kiln's own wait uses a timer child.
    const std::string small_monitor = small_monitor_program();
    const int64_t deadline_ns = r.timeout > 0 ? monotonic_ns() + int64_t{r.timeout} * 1000000000 : 0;
    std::optional<Timer> timer;
    if (small_monitor.empty()) timer.emplace(root, r.id, r.timeout);
    KILN_FAILPOINT("monitor-before-report");
    log_stage("report");
    write_report(report_fd, MonitorReport::success());
    reported = true;
    report_pipe.reset();
    if (debug_stderr) {
      // From here on stderr is the container's log, which `kiln logs` shows: no debug lines.
      spdlog::set_level(spdlog::level::info);
      set_log_stderr_fd(STDERR_FILENO);
      debug_stderr.reset();
    }
    // From here on the monitor only waits: what it held to make the container goes back to the
    // kernel (its memory is what every running container costs the host, like conmon's).
    job.spec = nlohmann::json();
    job.detached_mounts.clear();
    ::malloc_trim(0);
    KILN_FAILPOINT("engine-after-monitor-start");
    // A container that is over at once (`run -d IMAGE true`) is finished here: two more execs
    // would cost it more than the memory they save.
    if (!small_monitor.empty() && !exits_within(pid, kShortRunMs)) {
      exec_small_monitor(small_monitor, job, pid, deadline_ns);
      if (r.timeout > 0) timer.emplace(root, r.id, static_cast<int>((deadline_ns - monotonic_ns()) / 1000000000) + 1);
    }
    int wstatus = 0;
    while (::waitpid(pid, &wstatus, 0) < 0) {
      if (errno != EINTR) throw_errno("monitor: wait for container");
    }
    bool fired = timer && timer->stop();
    int status = fired ? 124 : exit_status_from_wait(wstatus);
    try {
      delete_container(root, r.id, true);
    } catch (const std::exception& e) {
      spdlog::warn("run {}: {}", r.id, e.what());
    }
    finish(job, status, fired);
    code = 0;
  } catch (const std::exception& e) {
    if (!reported) write_report(report_fd, MonitorReport::failure(e));
    else spdlog::error("monitor {}: {}", job.record.id, e.what());
  }
  ::_exit(code);
}

// The image stays in the store while a container uses it (rmi refuses a pinned image).
void unpin_image(const RunRecord& r) {
  if (r.store.empty() || r.image_id.empty()) return;
  // The record holds the image's id: no need to resolve (and verify) the image to drop the pin.
  image::Store(r.store).unpin(image::parse_digest(r.image_id), r.id);
}

}  // namespace

void finish_detached(const RunRecords& records, const std::string& id, pid_t pid, std::optional<int> status) {
  RunJob job{records, records.load(id), {}, {}};
  const std::string root = records.runtime_root();
  const bool fired = !status;
  if (fired) {
    try {
      kill_container(root, id, SIGKILL, true);
    } catch (const std::exception& e) {
      spdlog::warn("run {}: at its --timeout: {}", id, e.what());
    }
    int wstatus = 0;
    while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
    }
  }
  try {
    delete_container(root, id, true);
  } catch (const std::exception& e) {
    spdlog::warn("run {}: {}", id, e.what());
  }
  finish(job, fired ? 124 : *status, fired);
}

int run_attached(RunJob& job) {
  RunRecord& r = job.record;
  r.monitor_pid = ::getpid();
  r.monitor_start_time = process_start_time(r.monitor_pid);
  r.started = now_rfc3339();
  job.records.save(r);
  Timer timer(job.records.runtime_root(), r.id, r.timeout);
  log_stage("runtime run");
  int status = run_container(create_options(job), false);
  bool fired = timer.stop();
  if (fired) status = 124;
  finish(job, status, fired);
  return status;
}

void run_detached(RunJob& job) {
  Pipe pipe = make_pipe();
  UniqueFd& rd = pipe.read;
  std::fflush(nullptr);
  pid_t forked = ::fork();
  if (forked < 0) throw_errno("fork the monitor");
  if (forked == 0) {
    rd.reset();
    monitor_main(job, std::move(pipe.write));
  }
  Child monitor(forked);
  pipe.write.reset();
  std::optional<MonitorReport> r = read_report(rd.get());
  if (r && r->started) {
    monitor.release();  // it runs on, on its own (setsid)
    return;
  }
  monitor.wait();
  if (r) throw r->to_error();
  throw Error("monitor of container " + job.record.id.substr(0, 12) + " exited before the container started");
}

void remove_run_container(const RunRecords& records, const RunRecord& r, bool force) {
  log_stage("remove");
  const std::string root = records.runtime_root();
  RunStatus st = records.status(r);
  bool monitor_alive =
      r.monitor_pid > 0 && r.monitor_pid != ::getpid() && process_alive(r.monitor_pid, r.monitor_start_time);
  if (!force && (st.process_alive || (monitor_alive && !r.exit_code)))
    throw Error("container " + r.name + " is running: stop it first or use rm -f");
  if (monitor_alive) {
    ::kill(r.monitor_pid, SIGKILL);
    for (int i = 0; i < 200 && process_alive(r.monitor_pid, r.monitor_start_time); ++i) ::usleep(5000);
  }
  StateDir sd(root, r.id);
  if (sd.exists()) delete_container(root, r.id, true);
  KILN_FAILPOINT("engine-during-rm");
  if (!r.rootfs.empty()) unmount_rootfs(r.rootfs);
  detach_network(records, r.id);
  if (!r.container_dir.empty()) {
    unmount_rootfs(r.container_dir + "/rw");  // --storage-opt size: its writable layer
    remove_tree(r.container_dir);
  }
  {
    try {
      unpin_image(r);
    } catch (const std::exception& e) {
      spdlog::warn("remove {}: {}", r.id, e.what());
    }
  }
  records.remove(r);
}

RunGuard::~RunGuard() {
  if (committed_) return;
  try {
    remove_run_container(records_, record_, true);
  } catch (const std::exception& e) {
    spdlog::warn("cleanup of container {}: {}", record_.id, e.what());
  }
}

void signal_run_container(const RunRecords& records, const RunRecord& r, int sig) {
  try {
    kill_container(records.runtime_root(), r.id, sig, sig == SIGKILL);
  } catch (const Error& e) {
    if (records.status(r).process_alive) throw;
    throw Error("container " + r.name + " is not running");
  }
}

void stop_run_container(const RunRecords& records, const RunRecord& r, int timeout_seconds) {
  auto exited = [&] {
    RunRecord now = r;
    try {
      now = records.load(r.id);
    } catch (const Error&) {
      return true;  // removed (--rm)
    }
    RunStatus s = records.status(now);
    if (s.process_alive) return false;
    bool monitor = now.monitor_pid > 0 && process_alive(now.monitor_pid, now.monitor_start_time);
    return now.exit_code.has_value() || !monitor;
  };
  if (exited()) return;
  auto wait_until = [&](std::chrono::steady_clock::time_point deadline) {
    while (std::chrono::steady_clock::now() < deadline) {
      if (exited()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return exited();
  };
  try {
    kill_container(records.runtime_root(), r.id, SIGTERM, false);
  } catch (const Error&) {
  }
  if (wait_until(std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds))) return;
  try {
    kill_container(records.runtime_root(), r.id, SIGKILL, true);
  } catch (const Error&) {
  }
  if (!wait_until(std::chrono::steady_clock::now() + std::chrono::seconds(10)))
    throw Error("container " + r.name + " did not stop after SIGKILL");
}

}  // namespace kiln::engine
