#include "common/detached_mount.hpp"

#include <linux/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/error.hpp"

namespace kiln {

UniqueFd detached_mount(const std::string& type, const std::vector<std::pair<std::string, std::string>>& options,
                        unsigned int attrs) {
  UniqueFd fs(static_cast<int>(::syscall(SYS_fsopen, type.c_str(), FSOPEN_CLOEXEC)));
  if (!fs) throw_errno("fsopen " + type);
  for (const auto& [key, value] : options)
    if (::syscall(SYS_fsconfig, fs.get(), FSCONFIG_SET_STRING, key.c_str(), value.c_str(), 0) != 0)
      throw_errno(type + " option " + key);
  if (::syscall(SYS_fsconfig, fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0) throw_errno("create " + type);
  UniqueFd mnt(static_cast<int>(::syscall(SYS_fsmount, fs.get(), FSMOUNT_CLOEXEC, attrs)));
  if (!mnt) throw_errno("fsmount " + type);
  return mnt;
}

}  // namespace kiln
