#include "cgroups/delegation.hpp"

#include <sys/stat.h>

#include "cgroups/layout.hpp"
#include "cgroups/manager.hpp"

namespace kiln::cgroups {
namespace {

bool owned_by(const std::string& path, uid_t uid) {
  struct stat st = {};
  return ::stat(path.c_str(), &st) == 0 && st.st_uid == uid;
}

// Delegated to uid: the directory and the two files a delegation hands over.
bool delegated_to(const std::string& dir, uid_t uid) {
  return owned_by(dir, uid) && owned_by(dir + "/cgroup.procs", uid) && owned_by(dir + "/cgroup.subtree_control", uid);
}

}  // namespace

std::optional<std::string> v2_mount(const std::string& mount_root) {
  switch (detect_layout(mount_root)) {
    case Layout::v2: return mount_root;
    case Layout::hybrid: return mount_root + "/unified";
    case Layout::v1: return std::nullopt;
  }
  return std::nullopt;
}

std::optional<std::string> delegated_subtree(const std::string& v2_mount, const std::string& own_path, uid_t uid) {
  std::string path = own_path;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  if (path.empty() || path[0] != '/' || path.find("/..") != std::string::npos) return std::nullopt;
  std::optional<std::string> highest;
  // Up from the caller's own cgroup while the user owns the directories (a leaf a delegation's
  // owner made may lack the files it never needed); the hierarchy's root never is.
  while (path.size() > 1 && owned_by(v2_mount + path, uid)) {
    if (delegated_to(v2_mount + path, uid)) highest = path;
    path = path.substr(0, path.rfind('/'));
    if (path.empty()) break;
  }
  return highest;
}

}  // namespace kiln::cgroups
