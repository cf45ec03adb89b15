#include "engine/user_capabilities.hpp"

#include <unistd.h>

#include <sstream>

#include "cgroups/manager.hpp"
#include "common/files.hpp"
#include "common/user_namespace.hpp"
#include "common/error.hpp"
#include "engine/fuse_overlay.hpp"
#include "engine/pasta.hpp"
#include "engine/rootfs.hpp"
#include "runtime/container_cgroup.hpp"

namespace kiln::engine {
namespace {

// "0 1001 1; 1 100000 65536" from /proc/self/uid_map.
std::string map_text(const std::string& file) {
  std::istringstream in(read_file_if_exists(file).value_or(""));
  std::string out, line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string a, b, c;
    if (!(ls >> a >> b >> c)) continue;
    out += (out.empty() ? "" : "; ") + a + " -> " + b + " (" + c + ")";
  }
  return out.empty() ? "none" : out;
}

const char* layout_name(cgroups::Layout l) {
  switch (l) {
    case cgroups::Layout::v1: return "cgroup v1";
    case cgroups::Layout::v2: return "cgroup v2";
    case cgroups::Layout::hybrid: return "hybrid cgroup v1/v2";
  }
  return "?";
}

}  // namespace

std::vector<CapabilityLine> user_capabilities(const std::string& store_root, const std::string& run_root) {
  const bool rootless = !in_initial_user_namespace();
  const cgroups::Layout layout = cgroups::detect_layout();
  std::vector<CapabilityLine> out;
  out.push_back({"mode", rootless ? "rootless (a user namespace of this user's own)" : "root"});
  out.push_back({"store", store_root});
  out.push_back({"run root", run_root});
  out.push_back({"uid mapping (container -> host)", rootless ? map_text("/proc/self/uid_map") : "identity"});
  out.push_back({"gid mapping (container -> host)", rootless ? map_text("/proc/self/gid_map") : "identity"});
  std::string refusal;
  try {
    refusal = kernel_overlay_refusal(store_root + "/containers");
  } catch (const Error& e) {
    refusal = e.what();
  }
  if (refusal.empty())
    out.push_back({"overlay", rootless ? "kernel overlayfs in the user namespace (userxattr)" : "kernel overlayfs"});
  else if (find_fuse_overlayfs())
    out.push_back({"overlay", "fuse-overlayfs (the kernel refuses overlayfs for this store: " + refusal + ")"});
  else
    out.push_back({"overlay", "none: the kernel refuses overlayfs for this store (" + refusal +
                                  ") and fuse-overlayfs is not installed (Debian's fuse-overlayfs package)"});
  if (!rootless) {
    out.push_back({"cgroups", std::string(layout_name(layout)) + ": each container has its own; all limits work"});
  } else if (auto delegated = runtime::delegated_cgroup_dir()) {
    std::string controllers = read_file_if_exists(*delegated + "/cgroup.subtree_control").value_or("");
    while (!controllers.empty() && controllers.back() == '\n') controllers.pop_back();
    out.push_back({"cgroups", std::string(layout_name(layout)) + ": " + *delegated +
                                  " is delegated to this user: each container has its own cgroup there (kiln/<id>); "
                                  "limits work for its controllers (" +
                                  (controllers.empty() ? "none enabled" : controllers) + ")"});
  } else {
    out.push_back({"cgroups", std::string(layout_name(layout)) +
                                  ": none delegated to this user: containers run without a cgroup of their own; "
                                  "--memory, --pids-limit, --cpus are refused (limits need a cgroup v2 subtree "
                                  "delegated to the user, e.g. systemd's Delegate=yes)"});
  }
  std::string pasta = find_pasta() ? "pasta (user-mode, -p publishes)" : "pasta not installed (Debian's passt)";
  out.push_back({"network",
                 rootless ? "default " + pasta + "; none; host"
                          : "default bridge network kiln (netavark); user bridge networks; " + pasta + "; none; host"});
  return out;
}

}  // namespace kiln::engine
