// Turns a mount's option strings ("ro", "nosuid", "rbind", "rprivate", "mode=755") into the
// three things mount(2) needs: flags for the mount itself, a propagation change applied after
// it, and the filesystem-specific data string.
#pragma once
#include <string>
#include <vector>

namespace kiln::runtime {

struct MountOptions {
  unsigned long flags = 0;        // MS_RDONLY, MS_NOSUID, MS_BIND, MS_REC ...
  unsigned long clear = 0;        // flags an option explicitly turned off ("rw", "suid", "exec")
  unsigned long propagation = 0;  // MS_PRIVATE|MS_REC, MS_SLAVE ... (0: leave as is)
  std::string data;               // "mode=755,size=65536k"
  bool bind() const;
};

MountOptions parse_mount_options(const std::vector<std::string>& options);

// The options that take effect (flags and propagation): what `features` reports. Recursive
// attributes (rro, rnosuid ...), idmap and tmpcopyup are accepted but not applied, so they are
// not among them.
std::vector<std::string> mount_option_names();

}  // namespace kiln::runtime
