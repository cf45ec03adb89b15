// Resolves an image config "User" ("name", "uid", "name:group", "uid:gid") against the
// /etc/passwd and /etc/group of a root filesystem, read inside that root (a hostile image
// cannot make us read host files through a symlinked /etc/passwd).
#pragma once
#include <sys/types.h>

#include <string>
#include <vector>

namespace kiln::image {

struct ResolvedUser {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> additional_gids;  // groups from /etc/group listing the user by name
};

// Throws "user NAME not found in /etc/passwd" etc. An empty string is root.
ResolvedUser resolve_user(int rootfs_fd, const std::string& user);

}  // namespace kiln::image
