#include "cgroups/v2_manager.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <memory>
#include <sstream>

#include <spdlog/spdlog.h>

#include "cgroups/cgroup_files.hpp"
#include "cgroups/layout.hpp"
#include "common/error.hpp"
#include "common/files.hpp"

namespace kiln::cgroups {
namespace {

void make_dirs(const std::string& root, const std::string& d) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (::mkdir(d.c_str(), 0755) == 0 || errno == EEXIST) return;
    if (errno != ENOENT || d.size() <= root.size()) break;
    make_dirs(root, parent_of(d));  // a missing parent (or one a concurrent destroy removed)
  }
  throw_errno("create cgroup " + d);
}

std::vector<std::string> words(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

}  // namespace

V2Manager::V2Manager(std::string root, const CgroupPath& path) : root_(std::move(root)) {
  rel_ = path.path;
  if (path.relative) {
    auto own = own_cgroups();
    rel_ = join_cgroup_path(own.count("") ? own[""] : "", path.path);
  }
  dir_ = root_ + "/" + rel_;
}

// Top-down: a level only offers (cgroup.controllers) what its parent enabled. Only ancestors
// are touched: the container's own cgroup holds processes, which v2 forbids alongside
// controllers in subtree_control.
void V2Manager::enable_controllers() {
  std::string level = root_;
  std::vector<std::string> parts;
  for (size_t s = 0; s < rel_.size();) {
    size_t e = rel_.find('/', s);
    if (e == std::string::npos) e = rel_.size();
    parts.push_back(rel_.substr(s, e - s));
    s = e + 1;
  }
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) level += "/" + parts[i - 1];
    auto available = words(read_cgroup_file_if_exists(level + "/cgroup.controllers").value_or(""));
    std::string request;
    std::vector<std::string> wanted;
    for (const auto& c : wanted_) {
      if (std::find(available.begin(), available.end(), c) == available.end()) continue;
      request += (request.empty() ? "+" : " +") + c;
      wanted.push_back(c);
    }
    if (request.empty()) continue;
    try {
      write_cgroup_file(level + "/cgroup.subtree_control", request);
    } catch (const Error& e) {
      // A level with processes of its own (EBUSY), or a controller that cannot be enabled
      // here: enable what can be, and let apply() name the file that is missing.
      spdlog::debug("cgroups v2: {}; enabling one by one", e.what());
      for (const auto& c : wanted) {
        try {
          write_cgroup_file(level + "/cgroup.subtree_control", "+" + c);
        } catch (const Error& e2) {
          spdlog::debug("cgroups v2: {}", e2.what());
        }
      }
    }
  }
}

void V2Manager::create() {
  make_dirs(root_, dir_);
  enable_controllers();
  spdlog::debug("cgroups v2: created {}", dir_);
}

void V2Manager::apply(const Resources& resources) { apply_resources(resources, true); }

void V2Manager::update(const Resources& resources) { apply_resources(resources, resources.has_devices); }

void V2Manager::add_process(pid_t pid) {
  const std::string value = std::to_string(pid);
  with_context("add process " + value + " to cgroup", [&] { write_cgroup_file(dir_ + "/cgroup.procs", value); });
}

int V2Manager::clone_into_fd() {
  if (!dir_fd_) {
    int fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) throw_errno("open cgroup " + dir_);
    dir_fd_.reset(fd);
  }
  return dir_fd_.get();
}

std::vector<pid_t> V2Manager::pids() { return read_cgroup_procs(dir_); }

void V2Manager::freeze() {
  write_setting(dir_, "cgroup.freeze", "1", "freeze");
  const std::string events = dir_ + "/cgroup.events";
  bool done = wait_for([&] { return read_flat_keyed_if_exists(events)["frozen"] == 1; }, 5000);
  if (!done) {
    write_cgroup_file(dir_ + "/cgroup.freeze", "0");
    throw Error("freeze: " + events + " did not report frozen 1");
  }
}

void V2Manager::thaw() { write_setting(dir_, "cgroup.freeze", "0", "thaw"); }

bool V2Manager::frozen() { return read_flat_keyed_if_exists(dir_ + "/cgroup.events")["frozen"] == 1; }

void V2Manager::kill_all(int sig) {
  // cgroup.kill (5.14+) kills everything, forks in flight included, in one write.
  if (sig == SIGKILL && file_exists(dir_ + "/cgroup.kill")) {
    write_setting(dir_, "cgroup.kill", "1", "kill all processes");
    return;
  }
  bool froze = false;
  if (file_exists(dir_ + "/cgroup.freeze")) {
    try {
      freeze();
      froze = true;
    } catch (const Error& e) {
      spdlog::debug("cgroups v2: kill_all without freezing: {}", e.what());
    }
  }
  for (pid_t pid : pids()) {
    if (::kill(pid, sig) != 0 && errno != ESRCH) {
      int err = errno;
      if (froze) thaw();
      throw_errno("kill process " + std::to_string(pid) + " in cgroup " + dir_, err);
    }
  }
  if (froze) thaw();
}

void V2Manager::destroy() {
  dir_fd_.reset();
  if (!pids().empty()) {
    kill_all(SIGKILL);
    wait_for([&] { return pids().empty(); }, 5000);
  }
  if (!is_cgroupfs(root_)) {
    remove_tree(dir_);  // a fake tree in a test: plain files
  } else {
    remove_cgroup_tree(dir_);
  }
  // The default parent "kiln" stays (see V1Manager::remove_dir).
  spdlog::debug("cgroups v2: removed {}", dir_);
}

uint64_t V2Manager::oom_kill_count() { return read_flat_keyed_if_exists(dir_ + "/memory.events")["oom_kill"]; }

std::map<std::string, std::string> V2Manager::paths() { return {{"unified", dir_}}; }

}  // namespace kiln::cgroups
