#include "cgroups/hybrid_manager.hpp"

namespace kiln::cgroups {

HybridManager::HybridManager(const std::string& mount_root, const std::vector<V1Hierarchy>& hierarchies,
                             const CgroupPath& path)
    : V1Manager(mount_root, hierarchies, path), unified_(mount_root + "/unified", path) {}

void HybridManager::create() {
  V1Manager::create();
  unified_.create();
}

// What goes to the unified tree: hugetlb when v1 has no hugetlb hierarchy, and raw `unified`
// files. Everything else is v1's; the devices program is not needed there (v1 devices rules).
void HybridManager::apply_unified(const Resources& resources) {
  Resources u;
  if (hugetlb_elsewhere()) u.hugepage_limits = resources.hugepage_limits;
  u.unified = resources.unified;
  unified_.apply_resources(u, false);
}

void HybridManager::apply(const Resources& resources) {
  apply_resources(resources, true);
  apply_unified(resources);
}

void HybridManager::update(const Resources& resources) {
  apply_resources(resources, resources.has_devices);
  apply_unified(resources);
}

void HybridManager::add_process(pid_t pid) {
  V1Manager::add_process(pid);
  unified_.add_process(pid);
}

Stats HybridManager::stats() {
  Stats s = V1Manager::stats();
  if (hugetlb_elsewhere()) s.hugetlb = unified_.stats().hugetlb;
  return s;
}

void HybridManager::destroy() {
  V1Manager::destroy();  // kills what is left through the v1 freezer
  unified_.destroy();
}

std::map<std::string, std::string> HybridManager::paths() {
  auto p = V1Manager::paths();
  p["unified"] = unified_.dir();
  return p;
}

}  // namespace kiln::cgroups
