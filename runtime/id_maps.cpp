#include "runtime/id_maps.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "common/files.hpp"
#include "common/process.hpp"
#include "runtime/container_cgroup.hpp"

namespace kiln::runtime {
namespace {

std::string id_map_text(const std::vector<IdMapping>& maps) {
  std::string out;
  for (const auto& m : maps)
    out += std::to_string(m.container_id) + " " + std::to_string(m.host_id) + " " + std::to_string(m.size) + "\n";
  return out;
}

bool only_own_id(const std::vector<IdMapping>& maps, uint32_t own) {
  return maps.empty() || (maps.size() == 1 && maps[0].host_id == own && maps[0].size == 1);
}

std::optional<std::string> find_id_map_helper(const char* name) {
  for (const char* dir : {"/usr/bin/", "/usr/sbin/", "/bin/", "/usr/local/bin/"}) {
    std::string path = std::string(dir) + name;
    if (::access(path.c_str(), X_OK) == 0) return path;
  }
  return std::nullopt;
}

// newuidmap PID ID HOSTID SIZE...: its own error text (the /etc/subuid check) is the reason.
void run_id_map_helper(const char* helper, pid_t pid, const std::vector<IdMapping>& maps, const char* field) {
  const auto path = find_id_map_helper(helper);
  if (!path) throw Error(std::string("linux.") + field + ": needs " + helper + " (install Debian's uidmap)", ENOENT);
  std::vector<std::string> args = {*path, std::to_string(pid)};
  for (const auto& m : maps) {
    args.push_back(std::to_string(m.container_id));
    args.push_back(std::to_string(m.host_id));
    args.push_back(std::to_string(m.size));
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  Pipe err = kiln::make_pipe();
  pid_t child = ::fork();
  if (child < 0) throw_errno(std::string("fork ") + helper);
  if (child == 0) {
    ::dup2(err.write.get(), 2);
    ::execv(path->c_str(), argv.data());
    ::_exit(127);
  }
  Child owner(child);
  err.write.reset();
  std::string text = read_fd(err.read.get());
  int status = owner.wait();
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
  auto nl = text.find('\n');
  if (nl != std::string::npos) text.resize(nl);
  throw Error(std::string("linux.") + field + ": " + helper + " refused the mapping" +
                  (text.empty() ? "" : ": " + text) + " (see /etc/" + (field[0] == 'u' ? "subuid" : "subgid") + ")",
              EPERM);
}

}  // namespace

IdMapWriter choose_id_map_writer(const std::vector<IdMapping>& uids, const std::vector<IdMapping>& gids) {
  if (!unprivileged_caller()) return IdMapWriter::direct;
  if (only_own_id(uids, ::geteuid()) && only_own_id(gids, ::getegid())) return IdMapWriter::own_ids;
  if (!find_id_map_helper("newuidmap") || !find_id_map_helper("newgidmap"))
    throw Error(
        "linux.uidMappings: mapping more ids than this user's own needs newuidmap and newgidmap (install Debian's "
        "uidmap), or map only uid " +
            std::to_string(::geteuid()),
        ENOENT);
  return IdMapWriter::setuid_helpers;
}

void write_id_maps(pid_t pid, const std::vector<IdMapping>& uids, const std::vector<IdMapping>& gids, IdMapWriter how) {
  const std::string base = "/proc/" + std::to_string(pid);
  switch (how) {
    case IdMapWriter::direct:
      if (!uids.empty()) write_file(base + "/uid_map", id_map_text(uids));
      if (!gids.empty()) write_file(base + "/gid_map", id_map_text(gids));
      return;
    case IdMapWriter::own_ids:
      if (!uids.empty()) write_file(base + "/uid_map", id_map_text(uids));
      if (!gids.empty()) {
        write_file(base + "/setgroups", "deny");
        write_file(base + "/gid_map", id_map_text(gids));
      }
      return;
    case IdMapWriter::setuid_helpers:
      if (!uids.empty()) run_id_map_helper("newuidmap", pid, uids, "uidMappings");
      if (!gids.empty()) run_id_map_helper("newgidmap", pid, gids, "gidMappings");
      return;
  }
}

}  // namespace kiln::runtime
