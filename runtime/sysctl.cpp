#include "runtime/sysctl.hpp"

#include <sys/stat.h>

#include <string_view>

#include "common/error.hpp"
#include "common/files.hpp"

namespace kiln::runtime {
namespace {

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// The IPC keys (ipc_namespace in the kernel): System V message queues, semaphores, shared memory.
bool ipc_key(const std::string& key) {
  static const char* const keys[] = {"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
                                     "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"};
  for (const char* k : keys)
    if (key == k) return true;
  return starts_with(key, "fs.mqueue.");
}

// A namespace the container does not share with the host: new, or joined by a path that is
// not the host's own (the runtime runs in the host's namespaces).
bool private_namespace(const Linux& linux, const std::string& type) {
  const Namespace* ns = linux.find_namespace(type);
  if (!ns) return false;
  if (ns->path.empty()) return true;
  struct stat mine {
  }, theirs{};
  if (::stat(("/proc/self/ns/" + std::string(type == "network" ? "net" : type)).c_str(), &mine) != 0) return true;
  if (::stat(ns->path.c_str(), &theirs) != 0) return true;  // joining fails later, with its own error
  return mine.st_ino != theirs.st_ino || mine.st_dev != theirs.st_dev;
}

}  // namespace

void validate_sysctl(const Linux& linux) {
  for (const auto& [key, value] : linux.sysctl) {
    std::string field = "linux.sysctl." + key;
    if (key.empty() || key.find('/') != std::string::npos || key.find("..") != std::string::npos || key.front() == '.')
      throw Error(field + ": invalid key", EINVAL);
    const char* needs = nullptr;
    if (ipc_key(key)) needs = "ipc";
    else if (starts_with(key, "net.")) needs = "network";
    else if (key == "kernel.hostname" || key == "kernel.domainname") needs = "uts";
    if (!needs) throw Error(field + ": not a namespaced sysctl: it would change the host, refused", EPERM);
    if (!private_namespace(linux, needs))
      throw Error(field + ": needs a " + std::string(needs) + " namespace of the container's own", EPERM);
  }
}

void apply_sysctl(const std::map<std::string, std::string>& sysctl) {
  for (const auto& [key, value] : sysctl) {
    std::string path = "/proc/sys/" + key;
    for (size_t i = 10; i < path.size(); ++i)
      if (path[i] == '.') path[i] = '/';
    const std::string& text = value;  // clang 14 cannot capture structured bindings
    with_context("set sysctl " + key, [&] { write_file(path, text); });
  }
}

}  // namespace kiln::runtime
