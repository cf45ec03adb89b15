#include "runtime/mount_options.hpp"

#include <sys/mount.h>

#include <array>
#include <string_view>

namespace kiln::runtime {
namespace {

struct FlagOption {
  std::string_view name;
  bool clear;  // true: the option removes the flag
  unsigned long flag;
};

constexpr std::array<FlagOption, 26> kFlags{{
    {"ro", false, MS_RDONLY},
    {"rw", true, MS_RDONLY},
    {"nosuid", false, MS_NOSUID},
    {"suid", true, MS_NOSUID},
    {"nodev", false, MS_NODEV},
    {"dev", true, MS_NODEV},
    {"noexec", false, MS_NOEXEC},
    {"exec", true, MS_NOEXEC},
    {"sync", false, MS_SYNCHRONOUS},
    {"async", true, MS_SYNCHRONOUS},
    {"dirsync", false, MS_DIRSYNC},
    {"remount", false, MS_REMOUNT},
    {"mand", false, MS_MANDLOCK},
    {"nomand", true, MS_MANDLOCK},
    {"noatime", false, MS_NOATIME},
    {"atime", true, MS_NOATIME},
    {"nodiratime", false, MS_NODIRATIME},
    {"diratime", true, MS_NODIRATIME},
    {"relatime", false, MS_RELATIME},
    {"norelatime", true, MS_RELATIME},
    {"strictatime", false, MS_STRICTATIME},
    {"nostrictatime", true, MS_STRICTATIME},
    {"bind", false, MS_BIND},
    {"rbind", false, MS_BIND | MS_REC},
    {"silent", false, MS_SILENT},
    {"loud", true, MS_SILENT},
}};

constexpr std::array<std::pair<std::string_view, unsigned long>, 8> kPropagation{{
    {"private", MS_PRIVATE},
    {"rprivate", MS_PRIVATE | MS_REC},
    {"shared", MS_SHARED},
    {"rshared", MS_SHARED | MS_REC},
    {"slave", MS_SLAVE},
    {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE},
    {"runbindable", MS_UNBINDABLE | MS_REC},
}};

// Options that need mount_setattr (recursive attributes, id-mapped mounts) or are runtime
// hints; accepted and ignored rather than passed to the filesystem as data.
constexpr std::array<std::string_view, 19> kIgnored{{"tmpcopyup", "idmap", "ridmap", "rrw", "rnosuid", "rsuid",
                                                     "rnodev", "rdev", "rnoexec", "rexec", "rnoatime", "ratime",
                                                     "rrelatime", "rnorelatime", "rstrictatime", "rnostrictatime",
                                                     "rnodiratime", "rdiratime", "nosymfollow"}};

}  // namespace

bool MountOptions::bind() const { return (flags & MS_BIND) != 0; }

MountOptions parse_mount_options(const std::vector<std::string>& options) {
  MountOptions out;
  for (const std::string& opt : options) {
    bool known = false;
    for (const auto& f : kFlags) {
      if (opt == f.name) {
        if (f.clear) {
          out.flags &= ~f.flag;
          out.clear |= f.flag;
        } else {
          out.flags |= f.flag;
          out.clear &= ~f.flag;
        }
        known = true;
        break;
      }
    }
    if (known) continue;
    for (const auto& [name, flag] : kPropagation) {
      if (opt == name) {
        out.propagation = flag;
        known = true;
        break;
      }
    }
    if (known) continue;
    // Recursive attributes (rro, rnosuid, ...) and idmap need mount_setattr; treat the
    // common recursive read-only as ro and ignore the rest, like runc without mount_setattr.
    if (opt == "rro") {
      out.flags |= MS_RDONLY;
      continue;
    }
    bool ignored = false;
    for (std::string_view name : kIgnored) ignored = ignored || opt == name;
    if (ignored) continue;
    if (!out.data.empty()) out.data += ',';
    out.data += opt;
  }
  return out;
}

std::vector<std::string> mount_option_names() {
  std::vector<std::string> out;
  for (const auto& f : kFlags) out.emplace_back(f.name);
  for (const auto& p : kPropagation) out.emplace_back(p.first);
  return out;
}

}  // namespace kiln::runtime
