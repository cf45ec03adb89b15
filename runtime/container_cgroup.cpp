#include "runtime/container_cgroup.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "cgroups/no_cgroup_manager.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "common/user_namespace.hpp"

namespace kiln::runtime {
namespace {

const char* kNoCgroupWhy = "this user may not create cgroups here (none is delegated to it)";

}  // namespace

bool unprivileged_caller() { return ::geteuid() != 0 || !kiln::in_initial_user_namespace(); }

std::string default_state_root() {
  if (!unprivileged_caller()) return "/run/kiln-runtime";
  const char* xdg = ::getenv("XDG_RUNTIME_DIR");
  if (xdg && *xdg == '/') return std::string(xdg) + "/kiln-runtime";
  return "/tmp/kiln-runtime-" + std::to_string(::geteuid());
}

ContainerCgroup create_container_cgroup(const std::string& cgroups_path, const std::string& id) {
  std::shared_ptr<cgroups::Manager> m = cgroups::make_manager(cgroups_path, id);
  try {
    m->create();
    return {std::move(m), false};
  } catch (const Error& e) {
    try {
      m->destroy();  // what was made before the failure
    } catch (const Error&) {
    }
    const bool refused = e.code() == EACCES || e.code() == EPERM || e.code() == EROFS;
    if (!refused || !unprivileged_caller()) throw;
    return {std::make_shared<cgroups::NoCgroupManager>(m->layout(), kNoCgroupWhy), true};
  }
}

std::unique_ptr<cgroups::Manager> container_cgroup(const ContainerState& st) {
  if (st.no_cgroup) return std::make_unique<cgroups::NoCgroupManager>(cgroups::detect_layout(), kNoCgroupWhy, st.pid);
  return cgroups::make_manager(st.cgroups_path, st.id);
}

}  // namespace kiln::runtime
