// Hybrid hosts (systemd's "hybrid" mode, this project's CI machine): v1 hierarchies for the
// controllers, plus a cgroup2 tree at <mount_root>/unified that may hold a few controllers of
// its own (here: hugetlb, which then is not mounted as v1). The container gets a cgroup in
// both, so that the unified tree's controllers and `unified` settings apply too.
#pragma once
#include "cgroups/v1_manager.hpp"
#include "cgroups/v2_manager.hpp"

namespace kiln::cgroups {

class HybridManager : public V1Manager {
 public:
  HybridManager(const std::string& mount_root, const std::vector<V1Hierarchy>& hierarchies, const CgroupPath& path);
  Layout layout() const override { return Layout::hybrid; }

  void create() override;
  void apply(const Resources& resources) override;
  void update(const Resources& resources) override;
  void add_process(pid_t pid) override;
  // clone3 places the process in the unified tree; it moves itself into the v1 ones.
  int clone_into_fd() override { return unified_.clone_into_fd(); }
  Stats stats() override;
  void destroy() override;
  std::map<std::string, std::string> paths() override;

 protected:
  bool hugetlb_elsewhere() const override { return dir("hugetlb").empty(); }
  bool unified_elsewhere() const override { return true; }

 private:
  void apply_unified(const Resources& resources);

  V2Manager unified_;
};

}  // namespace kiln::cgroups
