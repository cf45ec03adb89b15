// cgroup v1: one directory per mounted hierarchy, each written with its own controller files.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "cgroups/cgroup_path.hpp"
#include "cgroups/layout.hpp"
#include "cgroups/manager.hpp"

namespace kiln::cgroups {

class V1Manager : public Manager {
 public:
  V1Manager(std::string mount_root, const std::vector<V1Hierarchy>& hierarchies, const CgroupPath& path);
  Layout layout() const override { return Layout::v1; }

  void create() override;
  void apply(const Resources& resources) override;
  void update(const Resources& resources) override;
  void add_process(pid_t pid) override;
  int clone_into_fd() override { return -1; }
  std::vector<JoinFile> open_join_files() override;
  std::vector<pid_t> pids() override;
  Stats stats() override;
  void freeze() override;
  void thaw() override;
  bool frozen() override;
  void kill_all(int sig) override;
  void destroy() override;
  uint64_t oom_kill_count() override;
  std::map<std::string, std::string> paths() override;

  // The directory of this cgroup in the hierarchy holding controller; "" when not mounted.
  std::string dir(const std::string& controller) const;

 protected:
  // with_devices: the devices list is rewritten (deny all, the spec's rules, the defaults).
  void apply_resources(const Resources& resources, bool with_devices);
  // What hugepageLimits need when v1 has no hugetlb hierarchy (hybrid: the unified tree).
  virtual bool hugetlb_elsewhere() const { return false; }
  virtual bool unified_elsewhere() const { return false; }

 private:
  struct Hierarchy {
    std::string mount;
    std::string dir;  // mount + cgroup path
    std::vector<std::string> controllers;
  };
  // dir(controller), or an error naming the setting when the controller is not mounted.
  const std::string& need(const std::string& controller, const std::string& setting) const;
  void make_dir(const Hierarchy& h);
  void remove_dir(const Hierarchy& h);

  std::vector<Hierarchy> hierarchies_;
  std::map<std::string, std::string> dirs_;  // controller -> dir
  CgroupPath path_;
  std::string mount_root_;
};

}  // namespace kiln::cgroups
