#include "cgroups/manager.hpp"

#include "cgroups/cgroup_path.hpp"
#include "cgroups/hybrid_manager.hpp"
#include "cgroups/layout.hpp"
#include "cgroups/v1_manager.hpp"
#include "cgroups/v2_manager.hpp"
#include "common/error.hpp"

#include <unistd.h>

namespace kiln::cgroups {

void join_self(std::vector<Manager::JoinFile>& files) {
  for (auto& f : files) {
    if (::write(f.fd.get(), "0", 1) != 1) throw_errno("join cgroup: write 0 to " + f.path);
    f.fd.reset();  // a host fd: gone before the process enters its container
  }
}

std::unique_ptr<Manager> make_manager(const std::string& cgroups_path, const std::string& container_id,
                                      const ManagerOptions& options) {
  const CgroupPath path = resolve_cgroups_path(cgroups_path, container_id);
  const Layout layout = options.layout ? *options.layout : detect_layout(options.mount_root);
  switch (layout) {
    case Layout::v2: {
      auto m = std::make_unique<V2Manager>(options.mount_root, path);
      m->set_device_rules(options.device_rules);
      return m;
    }
    case Layout::v1: return std::make_unique<V1Manager>(options.mount_root, v1_hierarchies(options.mount_root), path);
    case Layout::hybrid:
      return std::make_unique<HybridManager>(options.mount_root, v1_hierarchies(options.mount_root), path);
  }
  return nullptr;
}

}  // namespace kiln::cgroups
