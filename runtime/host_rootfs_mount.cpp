#include "runtime/host_rootfs_mount.hpp"

#include <stdlib.h>
#include <sys/mount.h>

#include <sstream>

#include "common/error.hpp"
#include "common/files.hpp"

namespace kiln::runtime {
namespace {

// mountinfo writes space, tab, newline and backslash in paths as octal escapes.
std::string mountinfo_escape(const std::string& path) {
  std::string out;
  for (char c : path) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\\') {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\%03o", static_cast<unsigned char>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

std::string mountinfo_unescape(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 3 < text.size()) {
      int v = 0;
      bool octal = true;
      for (size_t k = 1; k <= 3; ++k) {
        char c = text[i + k];
        octal = octal && c >= '0' && c <= '7';
        v = v * 8 + (c - '0');
      }
      if (octal) {
        out += static_cast<char>(v);
        i += 3;
        continue;
      }
    }
    out += text[i];
  }
  return out;
}

// Whether `point` is `path` or one of its ancestors (both escaped the same way).
bool is_mount_point_of(const std::string& point, const std::string& path) {
  if (point == "/") return true;
  return path.compare(0, point.size(), point) == 0 && (path.size() == point.size() || path[point.size()] == '/');
}

}  // namespace

ContainingMount containing_mount(const std::string& path) {
  const std::string escaped = mountinfo_escape(path);
  std::istringstream in(read_file("/proc/self/mountinfo"));
  std::string line;
  ContainingMount best;
  std::string best_escaped;
  bool found = false;
  // Fields: id parent major:minor root mount-point options [optional fields...] - fstype ...;
  // "shared:N" among the optional fields marks a shared mount. A mount stacked later is listed
  // later: among equal mount points the last one is on top.
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, point, options, tag;
    if (!(fields >> id >> parent >> dev >> root >> point >> options)) continue;
    if (!is_mount_point_of(point, escaped) || (found && point.size() < best_escaped.size())) continue;
    best = {mountinfo_unescape(point), false};
    best_escaped = point;
    found = true;
    while (fields >> tag && tag != "-")
      if (tag.rfind("shared:", 0) == 0) best.shared = true;
  }
  if (!found) throw Error("no mount holds " + path, ENOENT);
  return best;
}

int top_mount_id(const std::string& path) {
  const std::string escaped = mountinfo_escape(path);
  std::istringstream in(read_file("/proc/self/mountinfo"));
  std::string line;
  int top = -1;
  // Fields: id parent major:minor root mount-point ...; a mount stacked later is listed later.
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, point;
    if (!(fields >> id >> parent >> dev >> root >> point)) continue;
    if (point == escaped) top = std::stoi(id);
  }
  return top;
}

HostRootfsMount note_host_rootfs_mount(const std::string& rootfs) {
  // mountinfo names the path with every symlink resolved.
  std::string path = with_context("rootfs", [&] { return resolved_path(rootfs); });
  return with_context("note the mounts on rootfs " + path, [&] { return HostRootfsMount{path, top_mount_id(path)}; });
}

void detach_host_rootfs_mount(const HostRootfsMount& mount) {
  if (mount.path.empty()) return;
  // Each round detaches the topmost mount and the tree below it; a bounded loop, in case the
  // container's init stacked more than one mount on its root.
  for (int round = 0; round < 16; ++round) {
    int top = top_mount_id(mount.path);
    if (top < 0 || top == mount.base_mount_id) return;
    if (::umount2(mount.path.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) != 0)
      throw_errno("unmount the container's mounts on " + mount.path);
  }
  throw Error("unmount the container's mounts on " + mount.path + ": still mounted after 16 rounds", EBUSY);
}

}  // namespace kiln::runtime
