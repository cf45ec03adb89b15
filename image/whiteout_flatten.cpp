// Whiteouts applied as deletions onto one directory (for `kiln unpack`; see whiteout.hpp).
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <vector>

#include "common/dir_stream.hpp"
#include "common/error.hpp"
#include "common/in_root.hpp"
#include "image/fs_at.hpp"
#include "image/whiteout.hpp"

namespace kiln::image {

void FlattenWhiteouts::whiteout(int /*root_fd*/, int parent_fd, const std::string& name, const std::string& path) {
  if (created_.count(path)) return;
  remove_at(parent_fd, name);
}

void FlattenWhiteouts::opaque(int root_fd, const std::string& dir_path) {
  UniqueFd dir = mkdir_all_in_root(root_fd, dir_path);
  UniqueFd rd = open_in_root(dir.get(), ".", O_RDONLY | O_DIRECTORY);
  remove_lower_children(rd.get(), dir_path);
}

// Removes every child the current layer did not create; descends into directories it did
// create, because an opaque directory hides lower content at every depth.
void FlattenWhiteouts::remove_lower_children(int dir_fd, const std::string& dir_path) {
  std::vector<std::string> names;
  {
    DirStream d(dir_fd, dir_path);
    while (const dirent* de = d.next()) names.emplace_back(de->d_name);
  }
  for (const auto& n : names) {
    std::string child = dir_path.empty() ? n : dir_path + "/" + n;
    if (!created_.count(child)) {
      remove_at(dir_fd, n);
      continue;
    }
    struct stat st;
    if (::fstatat(dir_fd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
      UniqueFd sub(::openat(dir_fd, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!sub) throw_errno("open " + child);
      remove_lower_children(sub.get(), child);
    }
  }
}

}  // namespace kiln::image
