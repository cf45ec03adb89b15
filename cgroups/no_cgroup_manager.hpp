// A container without a cgroup of its own: what an unprivileged caller gets when nobody has
// delegated a cgroup to it (a cgroup v1 or hybrid host, or v2 without systemd's Delegate=yes).
// Nothing is created or removed; limits are refused with the reason, and the container's
// processes are found through its pid namespace instead of cgroup.procs.
#pragma once
#include <sys/types.h>

#include <string>

#include "cgroups/manager.hpp"

namespace kiln::cgroups {

// True when linux.resources asks for something only a cgroup can enforce (devices aside: an
// unprivileged container cannot create device nodes at all).
bool has_limits(const Resources& resources);

class NoCgroupManager : public Manager {
 public:
  // why: one line a refusal names ("this user may not create cgroups under /sys/fs/cgroup/...").
  // init: the container's init, whose pid namespace holds its processes (0 before it exists).
  NoCgroupManager(Layout layout, std::string why, pid_t init = 0);

  void create() override {}
  void apply(const Resources& resources) override;
  void update(const Resources& resources) override;
  Layout layout() const override { return layout_; }
  void add_process(pid_t) override {}
  int clone_into_fd() override { return -1; }
  std::vector<pid_t> pids() override;
  Stats stats() override;
  void freeze() override;
  void thaw() override;
  bool frozen() override { return false; }
  void kill_all(int sig) override;
  void destroy() override {}
  uint64_t oom_kill_count() override { return 0; }
  std::map<std::string, std::string> paths() override { return {}; }

 private:
  [[noreturn]] void refuse(const std::string& what) const;

  Layout layout_;
  std::string why_;
  pid_t init_;
};

}  // namespace kiln::cgroups
