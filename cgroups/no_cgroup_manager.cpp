#include "cgroups/no_cgroup_manager.hpp"

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "common/error.hpp"

namespace kiln::cgroups {
namespace {

std::string pid_namespace_of(pid_t pid) {
  std::error_code ec;
  auto link = std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/ns/pid", ec);
  return ec ? std::string() : link.string();
}

}  // namespace

bool has_limits(const Resources& r) {
  const auto& m = r.memory;
  const auto& c = r.cpu;
  return m.limit || m.reservation || m.swap || m.kernel || m.kernel_tcp || m.swappiness || m.disable_oom_killer ||
         c.shares || c.quota || c.burst || c.period || c.realtime_runtime || c.realtime_period || c.cpus || c.mems ||
         c.idle || r.pids.limit || !r.block_io.empty() || !r.hugepage_limits.empty() || r.network.class_id ||
         !r.network.priorities.empty() || !r.rdma.empty() || !r.unified.empty();
}

NoCgroupManager::NoCgroupManager(Layout layout, std::string why, pid_t init)
    : layout_(layout), why_(std::move(why)), init_(init) {}

void NoCgroupManager::refuse(const std::string& what) const {
  throw Error(what + " needs a cgroup of the container's own, and " + why_ +
                  " (delegate a cgroup v2 subtree to this user, e.g. systemd's Delegate=yes)",
              EPERM);
}

void NoCgroupManager::apply(const Resources& resources) {
  if (has_limits(resources)) refuse("linux.resources (memory, cpu, pids or io limits)");
}

void NoCgroupManager::update(const Resources& resources) {
  if (has_limits(resources)) refuse("update of limits");
}

std::vector<pid_t> NoCgroupManager::pids() {
  std::vector<pid_t> out;
  if (init_ <= 0) return out;
  const std::string ns = pid_namespace_of(init_);
  if (ns.empty()) return out;
  if (ns == pid_namespace_of(::getpid())) return {init_};  // no pid namespace of its own
  DIR* d = ::opendir("/proc");
  if (!d) throw_errno("list /proc");
  while (struct dirent* e = ::readdir(d)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    if (pid_namespace_of(static_cast<pid_t>(pid)) == ns) out.push_back(static_cast<pid_t>(pid));
  }
  ::closedir(d);
  return out;
}

Stats NoCgroupManager::stats() { refuse("stats"); }
void NoCgroupManager::freeze() { refuse("pause"); }
void NoCgroupManager::thaw() { refuse("resume"); }

void NoCgroupManager::kill_all(int sig) {
  for (pid_t pid : pids())
    if (::kill(pid, sig) != 0 && errno != ESRCH) throw_errno("signal process " + std::to_string(pid));
}

}  // namespace kiln::cgroups
