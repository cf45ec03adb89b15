#include "runtime/container_cgroup.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "cgroups/cgroup_path.hpp"
#include "cgroups/delegation.hpp"
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

namespace {

std::unique_ptr<cgroups::Manager> manager_for(const std::string& cgroups_path, const std::string& id,
                                              bool delegated_v2) {
  if (!delegated_v2) return cgroups::make_manager(cgroups_path, id);
  auto mount = cgroups::v2_mount();
  if (!mount) throw Error("cgroup " + cgroups_path + ": this host has no cgroup v2 mount any more", ENOENT);
  cgroups::ManagerOptions o;
  o.mount_root = *mount;
  o.layout = cgroups::Layout::v2;
  o.device_rules = false;
  return cgroups::make_manager(cgroups_path, id, o);
}

// The delegated subtree's root, as a path in the cgroup2 hierarchy ("/user.slice/...").
std::optional<std::string> delegated_root(std::string& mount) {
  if (!unprivileged_caller()) return std::nullopt;
  auto m = cgroups::v2_mount();
  if (!m) return std::nullopt;
  auto own = cgroups::own_cgroups();
  auto it = own.find("");
  if (it == own.end()) return std::nullopt;
  mount = *m;
  return cgroups::delegated_subtree(*m, it->second, ::geteuid());
}

}  // namespace

std::optional<std::string> delegated_cgroup_dir() {
  std::string mount;
  auto root = delegated_root(mount);
  if (!root) return std::nullopt;
  return mount + *root;
}

CgroupPlacement place_container_cgroup(const std::string& cgroups_path, const std::string& id) {
  if (!cgroups_path.empty()) return {cgroups_path, false};
  std::string mount;
  auto root = delegated_root(mount);
  if (!root) return {cgroups_path, false};
  return {*root + "/kiln/" + id, true};
}

ContainerCgroup create_container_cgroup(const CgroupPlacement& placement, const std::string& id) {
  std::shared_ptr<cgroups::Manager> m = manager_for(placement.cgroups_path, id, placement.delegated_v2);
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
  return manager_for(st.cgroups_path, st.id, st.cgroup_delegated_v2);
}

}  // namespace kiln::runtime
