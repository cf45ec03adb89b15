// cgroup v2: one directory in the unified tree. Controllers are enabled top-down through
// cgroup.subtree_control of every ancestor.
#pragma once
#include <map>
#include <set>
#include <string>
#include <vector>

#include "cgroups/cgroup_path.hpp"
#include "cgroups/manager.hpp"
#include "common/unique_fd.hpp"

namespace kiln::cgroups {

class V2Manager : public Manager {
 public:
  // root: the cgroup2 mount (mount_root on v2, mount_root + "/unified" on hybrid).
  V2Manager(std::string root, const CgroupPath& path);
  Layout layout() const override { return Layout::v2; }

  void create() override;
  void apply(const Resources& resources) override;
  void update(const Resources& resources) override;
  void add_process(pid_t pid) override;
  int clone_into_fd() override;
  std::vector<pid_t> pids() override;
  Stats stats() override;
  void freeze() override;
  void thaw() override;
  bool frozen() override;
  void kill_all(int sig) override;
  void destroy() override;
  uint64_t oom_kill_count() override;
  std::map<std::string, std::string> paths() override;

  const std::string& dir() const { return dir_; }
  // Writes linux.resources; with_devices also loads and attaches the device eBPF program.
  void apply_resources(const Resources& resources, bool with_devices);
  // The controllers create() asks for (a hybrid host's unified tree only offers hugetlb).
  void set_wanted_controllers(std::vector<std::string> controllers) { wanted_ = std::move(controllers); }
  void set_device_rules(bool on) { device_rules_ = on; }

 private:
  void enable_controllers();

  std::string root_;
  std::string dir_;
  std::string rel_;  // path below root_
  std::vector<std::string> wanted_ = {"cpuset", "cpu", "io", "memory", "pids", "hugetlb"};
  UniqueFd dir_fd_;
  bool device_rules_ = true;
};

}  // namespace kiln::cgroups
