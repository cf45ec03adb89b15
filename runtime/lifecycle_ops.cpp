#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "cgroups/manager.hpp"
#include "common/stage_clock.hpp"
#include "runtime/container_cgroup.hpp"
#include "common/error.hpp"
#include "common/failpoint.hpp"
#include "common/files.hpp"
#include "common/process.hpp"
#include "runtime/hooks.hpp"
#include "runtime/lifecycle.hpp"

namespace kiln::runtime {
namespace {

// Waits (up to timeout_ms) for a process that is not our child to exit.
bool wait_gone(pid_t pid, uint64_t start_time, int timeout_ms) {
  UniqueFd pidfd = try_open_pidfd(pid);
  if (!pidfd) return !process_alive(pid, start_time);
  if (!process_alive(pid, start_time)) return true;
  struct pollfd p = {pidfd.get(), POLLIN, 0};
  int rc;
  while ((rc = ::poll(&p, 1, timeout_ms)) < 0 && errno == EINTR) {
  }
  // A zombie not yet reaped by its parent counts as gone.
  return rc > 0 || !process_alive(pid, start_time);
}

void signal_process(const ContainerState& st, int sig) {
  // pidfd_send_signal after checking the start time: a recycled pid never gets our signal.
  UniqueFd pidfd = try_open_pidfd(st.pid);
  if (!pidfd || !process_alive(st.pid, st.pid_start_time))
    throw Error("cannot signal container " + st.id + ": container not running", ESRCH);
  if (::syscall(SYS_pidfd_send_signal, pidfd.get(), sig, nullptr, 0) != 0) throw_errno("kill container " + st.id);
}

// The spec for poststart and poststop: a failing hook is logged as a warning, and the remaining
// hooks and the lifecycle go on as if it had succeeded.
void run_hooks_warning(const ContainerState& st, Status status, const char* phase, const std::vector<Hook>& list) {
  if (list.empty()) return;
  const std::string state = state_to_oci_json(st, status).dump();
  for (std::size_t i = 0; i < list.size(); ++i) {
    try {
      run_hook(list[i], state, std::string(phase) + "[" + std::to_string(i) + "]");
    } catch (const Error& e) {
      spdlog::warn("container {}: {}", st.id, e.what());
    }
  }
}

// The init holds the exec fifo open, close-on-exec, until its execve: once no writer is left a
// reader sees POLLHUP. Until the init has taken our byte the fifo also reads as POLLIN. An init
// that dies before exec closes it too. poststart hooks run only after this (the spec: "after
// the user-specified process is executed").
void wait_for_exec_through_fifo(int reader, const ContainerState& st) {
  for (;;) {
    struct pollfd p = {reader, POLLIN, 0};
    int rc = ::poll(&p, 1, 1000);
    if (rc < 0) {
      if (errno == EINTR) continue;
      throw_errno("start container " + st.id + ": wait for the process to start");
    }
    if (p.revents & (POLLHUP | POLLERR)) return;
    if (rc == 0) {
      if (!process_alive(st.pid, st.pid_start_time)) return;
      continue;
    }
    ::usleep(100);  // the byte is not taken yet
  }
}

}  // namespace

void run_poststart_hooks(const ContainerState& st) {
  run_hooks_warning(st, Status::running, "poststart", st.poststart_hooks);
}
void run_poststop_hooks(const ContainerState& st) {
  run_hooks_warning(st, Status::stopped, "poststop", st.poststop_hooks);
}

void start_container(const std::string& root, const std::string& id) {
  log_stage("start");
  StateDir dir(root, id);
  UniqueFd lock = dir.lock();
  ContainerState st = dir.load();
  Status status = current_status(dir, st);
  if (status != Status::created)
    throw Error("cannot start container " + id + ": container is " + status_name(status) + ", not created");
  // The init holds the fifo open for reading; our byte releases it into execve. The reader is
  // only needed to see that execve happen, for poststart hooks.
  UniqueFd reader;
  if (!st.poststart_hooks.empty()) {
    reader = UniqueFd(::open(dir.fifo_path().c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    if (!reader) throw_errno("start container " + id + ": open exec fifo");
  }
  {
    UniqueFd fifo(::open(dir.fifo_path().c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
    if (!fifo) throw_errno("start container " + id + ": open exec fifo");
    write_all(fifo.get(), "0", "start container " + id + ": write exec fifo");
  }
  ::unlink(dir.fifo_path().c_str());
  if (reader) {
    wait_for_exec_through_fifo(reader.get(), st);
    run_poststart_hooks(st);
  }
}

void kill_container(const std::string& root, const std::string& id, int sig, bool all) {
  StateDir dir(root, id);
  ContainerState st = dir.load();
  Status status = current_status(dir, st);
  if (status == Status::stopped && !all)
    throw Error("cannot signal container " + id + ": container not running", ESRCH);
  if (all) {
    container_cgroup(st)->kill_all(sig);
    return;
  }
  signal_process(st, sig);
  // On cgroup v1 a SIGKILL to a frozen process does nothing until it is thawed; thaw so the
  // kill takes effect, like runc (containerd's `task kill -s KILL` of a paused task).
  if (status == Status::paused && sig == SIGKILL) {
    try {
      container_cgroup(st)->thaw();
    } catch (const Error& e) {
      spdlog::warn("container {}: thaw after SIGKILL: {}", id, e.what());
    }
  }
}

void delete_container(const std::string& root, const std::string& id, bool force) {
  log_stage("delete");
  StateDir dir(root, id);
  if (!dir.exists()) {
    if (force) {
      // A create killed right after its mkdir leaves the bare dir (it made nothing else yet).
      if (path_exists(dir.path())) dir.remove();
      return;
    }
    throw Error("container " + id + " does not exist", ENOENT);
  }
  UniqueFd lock;
  ContainerState st;
  try {
    lock = dir.lock();  // waits for a create still at work
    st = dir.load();
  } catch (const Error& e) {
    if (force && e.code() == ENOENT) return;  // its create failed and removed it meanwhile
    throw;
  }
  Status status = current_status(dir, st);
  // We hold the lock, so no create is at work on it: a creator that still looks alive is a
  // reused pid. What the intent names is undone like a stopped container's.
  if (status == Status::creating) status = Status::stopped;
  auto mgr = container_cgroup(st);
  // The spec: deleting a container that is not stopped (created included, which runc kills
  // anyway) has no effect and is an error; --force kills it first.
  if (status != Status::stopped && !force)
    throw Error("cannot delete container " + id + " that is not stopped: " + status_name(status));
  if (status != Status::stopped && st.pid > 0) {
    if (status == Status::paused) mgr->thaw();
    ::kill(st.pid, SIGKILL);
    if (!wait_gone(st.pid, st.pid_start_time, 5000))
      throw Error("delete container " + id + ": process " + std::to_string(st.pid) + " did not die");
  }
  KILN_FAILPOINT("delete-after-kill");
  mgr->destroy();
  detach_host_rootfs_mount(st.host_rootfs);
  KILN_FAILPOINT("delete-before-remove");
  if (!st.pid_file.empty() && st.pid > 0) {
    // The client's --pid-file, while it still names this container's init.
    try {
      auto text = read_file_if_exists(st.pid_file);
      if (text && *text == std::to_string(st.pid)) ::unlink(st.pid_file.c_str());
    } catch (const Error& e) {
      spdlog::debug("delete {}: pid file: {}", id, e.what());
    }
  }
  if (!st.creating) run_poststop_hooks(st);
  dir.remove();
}

nlohmann::json container_state_json(const std::string& root, const std::string& id) {
  StateDir dir(root, id);
  ContainerState st = dir.load();
  return state_to_oci_json(st, current_status(dir, st));
}

void pause_container(const std::string& root, const std::string& id) {
  StateDir dir(root, id);
  UniqueFd lock = dir.lock();
  ContainerState st = dir.load();
  Status status = current_status(dir, st);
  if (status != Status::running && status != Status::created)
    throw Error("cannot pause container " + id + ": container is " + status_name(status));
  container_cgroup(st)->freeze();
}

void resume_container(const std::string& root, const std::string& id) {
  StateDir dir(root, id);
  UniqueFd lock = dir.lock();
  ContainerState st = dir.load();
  Status status = current_status(dir, st);
  if (status != Status::paused) throw Error("cannot resume container " + id + ": container is not paused");
  container_cgroup(st)->thaw();
}

void update_container(const std::string& root, const std::string& id, const cgroups::Resources& resources) {
  StateDir dir(root, id);
  UniqueFd lock = dir.lock();
  ContainerState st = dir.load();
  if (current_status(dir, st) == Status::stopped) throw Error("container " + id + " not running", ESRCH);
  with_context("update container " + id, [&] { container_cgroup(st)->update(resources); });
}

std::vector<pid_t> container_pids(const std::string& root, const std::string& id) {
  StateDir dir(root, id);
  ContainerState st = dir.load();
  return container_cgroup(st)->pids();
}

std::vector<std::string> default_parent_cgroup_ids(const std::string& cgroup_root) {
  std::set<std::string> ids;
  std::error_code ec;
  auto scan = [&](const std::filesystem::path& parent) {
    std::error_code e2;
    for (const auto& c : std::filesystem::directory_iterator(parent, e2))
      if (c.is_directory(e2)) ids.insert(c.path().filename());
  };
  scan(std::filesystem::path(cgroup_root) / "kiln");  // pure v2: the root is the hierarchy
  for (const auto& h : std::filesystem::directory_iterator(cgroup_root, ec)) {
    if (h.is_symlink(ec)) continue;  // cpu -> cpu,cpuacct: scanned under its real name
    if (h.is_directory(ec)) scan(h.path() / "kiln");
  }
  return {ids.begin(), ids.end()};
}

void remove_stray_cgroups(const std::string& id) {
  validate_container_id(id);
  cgroups::make_manager("", id)->destroy();
}

std::vector<ListedContainer> list_containers(const std::string& root) {
  std::vector<ListedContainer> out;
  for (const auto& id : list_container_ids(root)) {
    try {
      StateDir dir(root, id);
      ContainerState st = dir.load();
      out.push_back({st, current_status(dir, st)});
    } catch (const Error& e) {
      spdlog::debug("list: skip {}: {}", id, e.what());
    }
  }
  return out;
}

}  // namespace kiln::runtime
