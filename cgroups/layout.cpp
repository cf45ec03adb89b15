#include "cgroups/layout.hpp"

#include <dirent.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <algorithm>
#include <memory>

#include "cgroups/cgroup_files.hpp"
#include "common/error.hpp"

namespace kiln::cgroups {
namespace {

long fs_magic(const std::string& path) {
  struct statfs st;
  if (::statfs(path.c_str(), &st) != 0) throw_errno("cgroup layout: statfs " + path);
  return static_cast<long>(st.f_type);
}

}  // namespace

bool is_cgroupfs(const std::string& path) {
  struct statfs st;
  if (::statfs(path.c_str(), &st) != 0) return false;
  return st.f_type == CGROUP_SUPER_MAGIC || st.f_type == CGROUP2_SUPER_MAGIC;
}

Layout detect_layout(const std::string& mount_root) {
  long magic = fs_magic(mount_root);
  if (magic == CGROUP2_SUPER_MAGIC) return Layout::v2;
  const std::string unified = mount_root + "/unified";
  if (magic == TMPFS_MAGIC) {
    struct statfs st;
    if (::statfs(unified.c_str(), &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC) return Layout::hybrid;
    return Layout::v1;
  }
  // Not a cgroup mount: a fake tree laid out like one.
  if (file_exists(mount_root + "/cgroup.controllers")) return Layout::v2;
  if (file_exists(unified + "/cgroup.controllers")) return Layout::hybrid;
  return Layout::v1;
}

std::vector<V1Hierarchy> v1_hierarchies(const std::string& mount_root) {
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(mount_root.c_str()), ::closedir);
  if (!dir) throw_errno("cgroup layout: open " + mount_root);
  std::vector<V1Hierarchy> out;
  // Only a real root needs the per-directory check: a stray directory on the tmpfs is not a
  // hierarchy and we must not create cgroups (plain directories) in it.
  const bool real = fs_magic(mount_root) == TMPFS_MAGIC;
  while (dirent* e = ::readdir(dir.get())) {
    std::string name = e->d_name;
    if (name == "." || name == ".." || name == "unified") continue;
    if (e->d_type != DT_DIR) continue;  // symlinks are aliases of a combined mount
    std::string path = mount_root + "/" + name;
    if (real) {
      struct statfs st;
      if (::statfs(path.c_str(), &st) != 0 || st.f_type != CGROUP_SUPER_MAGIC) continue;
    }
    V1Hierarchy h;
    h.mount = path;
    size_t s = 0;
    while (s <= name.size()) {
      size_t c = name.find(',', s);
      if (c == std::string::npos) c = name.size();
      std::string controller = name.substr(s, c - s);
      // systemd's named hierarchy is mounted as "systemd" (name=systemd); runtimes join it so
      // that systemd inside a container finds its own subtree.
      if (controller == "systemd") controller = "name=systemd";
      if (!controller.empty()) h.controllers.push_back(controller);
      s = c + 1;
    }
    out.push_back(std::move(h));
  }
  std::sort(out.begin(), out.end(), [](const V1Hierarchy& a, const V1Hierarchy& b) { return a.mount < b.mount; });
  return out;
}

}  // namespace kiln::cgroups
