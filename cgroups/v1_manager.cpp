#include "cgroups/v1_manager.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <algorithm>
#include <memory>
#include <set>

#include <spdlog/spdlog.h>

#include "cgroups/cgroup_files.hpp"
#include "common/error.hpp"
#include "common/files.hpp"

namespace kiln::cgroups {

V1Manager::V1Manager(std::string mount_root, const std::vector<V1Hierarchy>& hierarchies, const CgroupPath& path)
    : path_(path), mount_root_(std::move(mount_root)) {
  std::map<std::string, std::string> own;
  if (path.relative) own = own_cgroups();
  for (const auto& h : hierarchies) {
    std::string rel = path.path;
    if (path.relative && !h.controllers.empty()) {
      auto it = own.find(h.controllers.front());
      if (it != own.end()) rel = join_cgroup_path(it->second, path.path);
    }
    Hierarchy mine{h.mount, h.mount + "/" + rel, h.controllers};
    for (const auto& c : h.controllers) dirs_[c] = mine.dir;
    hierarchies_.push_back(std::move(mine));
  }
}

std::string V1Manager::dir(const std::string& controller) const {
  auto it = dirs_.find(controller);
  return it == dirs_.end() ? std::string() : it->second;
}

const std::string& V1Manager::need(const std::string& controller, const std::string& setting) const {
  auto it = dirs_.find(controller);
  if (it == dirs_.end())
    throw Error("set " + setting + ": the " + controller + " controller is not mounted under " + mount_root_);
  return it->second;
}

// mkdir, creating missing parents first. A new cpuset cgroup starts with empty cpus and mems
// (no task could run in it), so each directory we make there inherits its parent's.
void V1Manager::make_dir(const Hierarchy& h) {
  const bool cpuset = std::find(h.controllers.begin(), h.controllers.end(), "cpuset") != h.controllers.end();
  auto make = [&](auto&& self, const std::string& d, int depth) -> void {
    for (int attempt = 0; attempt < 5; ++attempt) {
      if (::mkdir(d.c_str(), 0755) == 0) {
        if (cpuset) {
          const std::string parent = parent_of(d);
          for (const char* f : {"cpuset.cpus", "cpuset.mems"}) {
            std::string value = read_cgroup_file(parent + "/" + f);
            if (value.empty() || value == "\n") continue;
            with_context("create cgroup " + d, [&] { write_cgroup_file(d + "/" + f, value); });
          }
        }
        return;
      }
      if (errno == EEXIST) return;
      // A parent is missing (or a concurrent destroy just removed an empty "kiln" parent).
      if (errno != ENOENT || d.size() <= h.mount.size() || depth > 64) throw_errno("create cgroup " + d);
      self(self, parent_of(d), depth + 1);
    }
    throw_errno("create cgroup " + d);
  };
  make(make, h.dir, 0);
}

std::vector<Manager::JoinFile> V1Manager::open_join_files() {
  std::vector<JoinFile> files;
  for (const auto& h : hierarchies_) {
    std::string path = h.dir + "/tasks";
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) throw_errno("open " + path);
    files.push_back({UniqueFd(fd), path});
  }
  return files;
}

void V1Manager::create() {
  for (const auto& h : hierarchies_) make_dir(h);
  spdlog::debug("cgroups v1: created {} in {} hierarchies", path_.path, hierarchies_.size());
}

void V1Manager::apply(const Resources& resources) { apply_resources(resources, true); }

void V1Manager::update(const Resources& resources) { apply_resources(resources, resources.has_devices); }

void V1Manager::add_process(pid_t pid) {
  const std::string value = std::to_string(pid);
  for (const auto& h : hierarchies_) {
    with_context("add process " + value + " to cgroup", [&] { write_cgroup_file(h.dir + "/cgroup.procs", value); });
  }
}

std::vector<pid_t> V1Manager::pids() {
  // The freezer's view is the one kill_all acts on; any hierarchy would do otherwise.
  for (const char* c : {"freezer", "pids", "memory"}) {
    if (auto d = dir(c); !d.empty()) return read_cgroup_procs(d);
  }
  return hierarchies_.empty() ? std::vector<pid_t>{} : read_cgroup_procs(hierarchies_.front().dir);
}

void V1Manager::freeze() {
  const std::string& d = need("freezer", "freeze");
  write_setting(d, "freezer.state", "FROZEN", "freeze");
  const std::string state_file = d + "/freezer.state";
  bool done = wait_for([&] { return read_cgroup_file(state_file).starts_with("FROZEN"); }, 5000);
  if (!done) {
    // Stuck in FREEZING (a task in an uninterruptible sleep): do not leave it half frozen.
    write_cgroup_file(state_file, "THAWED");
    throw Error("freeze: " + state_file + " did not reach FROZEN");
  }
}

void V1Manager::thaw() { write_setting(need("freezer", "thaw"), "freezer.state", "THAWED", "thaw"); }

bool V1Manager::frozen() {
  auto d = dir("freezer");
  if (d.empty()) return false;
  auto state = read_cgroup_file_if_exists(d + "/freezer.state");
  return state && state->starts_with("FROZEN");
}

void V1Manager::kill_all(int sig) {
  // Freezing first means no process can fork a new one between reading the list and killing.
  const bool can_freeze = !dir("freezer").empty() && file_exists(dir("freezer") + "/freezer.state");
  bool froze = false;
  if (can_freeze) {
    try {
      freeze();
      froze = true;
    } catch (const Error& e) {
      spdlog::debug("cgroups v1: kill_all without freezing: {}", e.what());
    }
  }
  for (pid_t pid : pids()) {
    if (::kill(pid, sig) != 0 && errno != ESRCH) {
      int err = errno;
      if (froze) thaw();
      throw_errno("kill process " + std::to_string(pid) + " in cgroup " + path_.path, err);
    }
  }
  if (froze) thaw();
}

void V1Manager::destroy() {
  if (!pids().empty()) {
    kill_all(SIGKILL);
    wait_for([&] { return pids().empty(); }, 5000);
  }
  for (const auto& h : hierarchies_) {
    if (::rmdir(h.dir.c_str()) == 0 || errno == ENOENT) continue;  // the usual case: empty, no children
    // A process that made it into only some hierarchies (a failed add_process) is not in the
    // freezer's list; it would keep this directory busy.
    for (pid_t pid : read_cgroup_procs(h.dir)) ::kill(pid, SIGKILL);
    remove_dir(h);
  }
  spdlog::debug("cgroups v1: removed {}", path_.path);
}

void V1Manager::remove_dir(const Hierarchy& h) {
  if (!is_cgroupfs(h.mount)) {
    remove_tree(h.dir);  // a fake tree in a test: plain files
  } else {
    remove_cgroup_tree(h.dir);
  }
  // The default parent "kiln" stays, like docker's and runc's parents: making and removing it
  // with every container doubled the cgroup work of a start.
}

uint64_t V1Manager::oom_kill_count() {
  auto d = dir("memory");
  if (d.empty()) return 0;
  auto keys = read_flat_keyed_if_exists(d + "/memory.oom_control");
  auto it = keys.find("oom_kill");
  return it == keys.end() ? 0 : it->second;
}

std::map<std::string, std::string> V1Manager::paths() { return dirs_; }

}  // namespace kiln::cgroups
