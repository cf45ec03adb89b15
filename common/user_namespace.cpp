#include "common/user_namespace.hpp"

#include <sstream>
#include <string>

#include "common/files.hpp"

namespace kiln {

bool in_initial_user_namespace() {
  // Not cached: a kiln command joins its user's session namespace early on.
  auto map = read_file_if_exists("/proc/self/uid_map");
  if (!map) return true;  // no user namespaces in this kernel
  std::istringstream in(*map);
  unsigned long inside = 1, outside = 1, count = 0;
  in >> inside >> outside >> count;
  std::string more;
  return inside == 0 && outside == 0 && count == 4294967295UL && !(in >> more);
}

bool gid_mapped(unsigned gid) {
  std::istringstream in(read_file_if_exists("/proc/self/gid_map").value_or("0 0 4294967295"));
  unsigned long inside = 0, outside = 0, count = 0;
  while (in >> inside >> outside >> count)
    if (gid >= inside && gid - inside < count) return true;
  return false;
}

}  // namespace kiln
