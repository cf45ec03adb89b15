#include "cgroups/cgroup_path.hpp"

#include <vector>

#include "common/error.hpp"
#include "common/files.hpp"

namespace kiln::cgroups {
namespace {

// Normalizes and reports whether ".." tried to climb above the start.
bool normalize(const std::string& path, std::string& out) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    std::string part = path.substr(i, j - i);
    if (part == "..") {
      if (parts.empty()) return false;
      parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    i = j + 1;
  }
  out.clear();
  for (const auto& p : parts) {
    if (!out.empty()) out += '/';
    out += p;
  }
  return true;
}

}  // namespace

CgroupPath resolve_cgroups_path(const std::string& cgroups_path, const std::string& container_id) {
  if (cgroups_path.empty()) {
    if (container_id.empty() || container_id.find('/') != std::string::npos || container_id == "." ||
        container_id == "..")
      throw Error("cgroup for container \"" + container_id + "\": not a valid id");
    return {"kiln/" + container_id, false};
  }
  if (cgroups_path.find('\0') != std::string::npos || cgroups_path.find('\n') != std::string::npos)
    throw Error("linux.cgroupsPath \"" + cgroups_path + "\": not a path");
  CgroupPath out;
  out.relative = cgroups_path[0] != '/';
  if (!normalize(cgroups_path, out.path))
    throw Error("linux.cgroupsPath \"" + cgroups_path + "\": escapes the cgroup root");
  // "/" itself would make the container own the whole hierarchy (and destroy would kill the host).
  if (out.path.empty()) throw Error("linux.cgroupsPath \"" + cgroups_path + "\": is the cgroup root");
  return out;
}

std::string join_cgroup_path(const std::string& base, const std::string& rel) {
  std::string out;
  if (!normalize(base + "/" + rel, out)) throw Error("cgroup path " + base + "/" + rel + ": escapes the cgroup root");
  return out;
}

std::map<std::string, std::string> own_cgroups() {
  std::map<std::string, std::string> out;
  std::string content = read_file("/proc/self/cgroup");
  size_t pos = 0;
  while (pos < content.size()) {
    size_t nl = content.find('\n', pos);
    if (nl == std::string::npos) nl = content.size();
    std::string line = content.substr(pos, nl - pos);
    pos = nl + 1;
    size_t c1 = line.find(':');
    size_t c2 = c1 == std::string::npos ? c1 : line.find(':', c1 + 1);
    if (c2 == std::string::npos) continue;
    std::string controllers = line.substr(c1 + 1, c2 - c1 - 1);
    std::string path = line.substr(c2 + 1);
    if (controllers.empty()) {
      out[""] = path;
      continue;
    }
    size_t s = 0;
    while (s <= controllers.size()) {
      size_t e = controllers.find(',', s);
      if (e == std::string::npos) e = controllers.size();
      out[controllers.substr(s, e - s)] = path;
      s = e + 1;
    }
  }
  return out;
}

}  // namespace kiln::cgroups
