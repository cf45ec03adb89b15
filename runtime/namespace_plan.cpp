#include "runtime/namespace_plan.hpp"

namespace kiln::runtime {

NamespacePlan plan_namespaces(const Linux& linux) {
  NamespacePlan plan;
  const Namespace* user = linux.find_namespace("user");
  plan.joins_user = user && !user->path.empty();
  if (plan.joins_user) plan.joins.push_back({user->type, user->path, user->clone_flag});
  for (const Namespace& ns : linux.namespaces) {
    if (!ns.path.empty()) {
      if (ns.type == "pid") plan.pid_path = ns.path;
      else if (ns.type != "user") plan.joins.push_back({ns.type, ns.path, ns.clone_flag});
      continue;
    }
    if (ns.type == "cgroup") plan.new_cgroup = true;
    else if (ns.type == "time") plan.new_time = true;
    else if (plan.joins_user && ns.type != "pid") plan.unshare_after_user_join |= ns.clone_flag;
    else plan.clone_flags |= static_cast<uint64_t>(ns.clone_flag);
  }
  return plan;
}

}  // namespace kiln::runtime
