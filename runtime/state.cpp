#include "runtime/state.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>

#include "cgroups/manager.hpp"
#include "runtime/container_cgroup.hpp"
#include "common/clock.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "runtime/version.hpp"

namespace kiln::runtime {

using json = nlohmann::json;

const char* status_name(Status s) {
  switch (s) {
    case Status::creating: return "creating";
    case Status::created: return "created";
    case Status::running: return "running";
    case Status::paused: return "paused";
    case Status::stopped: return "stopped";
  }
  return "stopped";
}

void validate_container_id(const std::string& id) {
  if (id.empty()) throw Error("container id: must not be empty");
  if (id.size() > 1024) throw Error("container id: too long");
  if (id == "." || id == "..") throw Error("container id \"" + id + "\": invalid");
  for (char c : id) {
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '+';
    if (!ok) throw Error("container id \"" + id + "\": invalid character (use letters, digits, - _ . +)");
  }
}

StateDir::StateDir(std::string root, std::string id)
    : root_(std::move(root)), id_(std::move(id)), dir_(root_ + "/" + id_) {
  validate_container_id(id_);
}

void StateDir::create_new() {
  mkdir_p(root_, 0700);
  if (::mkdir(dir_.c_str(), 0700) != 0) {
    if (errno == EEXIST) throw Error("container " + id_ + " already exists", EEXIST);
    throw_errno("create state dir " + dir_);
  }
}

bool StateDir::exists() const { return path_exists(dir_ + "/state.json"); }

UniqueFd StateDir::lock() const {
  int fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) throw Error("container " + id_ + " does not exist", ENOENT);
    throw_errno("open state dir " + dir_);
  }
  UniqueFd owned(fd);
  while (::flock(fd, LOCK_EX) != 0) {
    if (errno != EINTR) throw_errno("lock state dir " + dir_);
  }
  return owned;
}

void StateDir::save(const ContainerState& s) const {
  json j = {{"id", s.id},
            {"pid", s.pid},
            {"pid_start_time", s.pid_start_time},
            {"bundle", s.bundle},
            {"rootfs", s.rootfs},
            {"created", s.created},
            {"owner", s.owner},
            {"annotations", s.annotations},
            {"cgroups_path", s.cgroups_path},
            {"hooks", hooks_to_json({.poststart = s.poststart_hooks, .poststop = s.poststop_hooks})},
            {"has_user_namespace", s.has_user_namespace},
            {"no_cgroup", s.no_cgroup},
            {"cgroup_delegated_v2", s.cgroup_delegated_v2},
            {"namespace_paths", s.namespace_paths},
            {"seccomp_program", s.seccomp_program},
            {"no_new_privileges", s.no_new_privileges},
            {"host_rootfs", s.host_rootfs.path},
            {"host_rootfs_base_mount_id", s.host_rootfs.base_mount_id},
            {"pid_file", s.pid_file}};
  if (s.creating) {
    j["creating"] = true;
    j["creator_pid"] = s.creator_pid;
    j["creator_start_time"] = s.creator_start_time;
  }
  write_file_atomic(dir_ + "/state.json", j.dump(), 0600, Sync::in_memory);
}

ContainerState StateDir::load() const {
  auto text = read_file_if_exists(dir_ + "/state.json");
  if (!text) throw Error("container " + id_ + " does not exist", ENOENT);
  ContainerState s;
  try {
    json j = json::parse(*text);
    s.id = j.at("id").get<std::string>();
    s.pid = j.at("pid").get<pid_t>();
    s.pid_start_time = j.at("pid_start_time").get<uint64_t>();
    s.bundle = j.at("bundle").get<std::string>();
    s.rootfs = j.at("rootfs").get<std::string>();
    s.created = j.at("created").get<std::string>();
    s.owner = j.value("owner", "");
    s.annotations = j.value("annotations", std::map<std::string, std::string>{});
    s.cgroups_path = j.value("cgroups_path", "");
    Hooks hooks = parse_hooks(j.value("hooks", json()));
    s.poststart_hooks = std::move(hooks.poststart);
    s.poststop_hooks = std::move(hooks.poststop);
    s.has_user_namespace = j.value("has_user_namespace", false);
    s.no_cgroup = j.value("no_cgroup", false);
    s.cgroup_delegated_v2 = j.value("cgroup_delegated_v2", false);
    s.namespace_paths = j.value("namespace_paths", std::vector<std::pair<std::string, std::string>>{});
    s.seccomp_program = j.value("seccomp_program", "");
    s.no_new_privileges = j.value("no_new_privileges", false);
    s.host_rootfs.path = j.value("host_rootfs", "");
    s.host_rootfs.base_mount_id = j.value("host_rootfs_base_mount_id", -1);
    s.pid_file = j.value("pid_file", "");
    s.creating = j.value("creating", false);
    s.creator_pid = j.value("creator_pid", 0);
    s.creator_start_time = j.value("creator_start_time", uint64_t{0});
  } catch (const json::exception& e) {
    throw Error("state of container " + id_ + " (" + dir_ + "/state.json): corrupt: " + e.what());
  }
  return s;
}

void StateDir::remove() const { remove_tree(dir_); }

uint64_t process_start_time(pid_t pid) {
  auto text = [&]() -> std::optional<std::string> {
    try {
      return read_file_if_exists("/proc/" + std::to_string(pid) + "/stat");
    } catch (const Error&) {
      return std::nullopt;
    }
  }();
  if (!text) return 0;
  // The command name may hold spaces and parentheses: fields start after the last ')'.
  size_t close = text->rfind(')');
  if (close == std::string::npos) return 0;
  const char* p = text->c_str() + close + 2;
  char state = *p;
  if (state == 'Z' || state == 'X') return 0;
  // Field 3 is the state; starttime is field 22, i.e. 19 more fields on.
  int field = 3;
  while (*p && field < 22) {
    if (*p == ' ') ++field;
    ++p;
  }
  return std::strtoull(p, nullptr, 10);
}

bool process_alive(pid_t pid, uint64_t start_time) {
  if (pid <= 0) return false;
  uint64_t now = process_start_time(pid);
  return now != 0 && now == start_time;
}

Status current_status(const StateDir& dir, const ContainerState& state) {
  if (state.creating)
    return process_alive(state.creator_pid, state.creator_start_time) ? Status::creating : Status::stopped;
  if (!process_alive(state.pid, state.pid_start_time)) return Status::stopped;
  if (path_exists(dir.fifo_path())) return Status::created;
  try {
    if (container_cgroup(state)->frozen()) return Status::paused;
  } catch (const Error&) {
  }
  return Status::running;
}

json state_to_oci_json(const ContainerState& s, Status status) {
  json j = {{"ociVersion", kOciVersion},     {"id", s.id},         {"pid", status == Status::stopped ? 0 : s.pid},
            {"status", status_name(status)}, {"bundle", s.bundle}, {"rootfs", s.rootfs},
            {"created", s.created},          {"owner", s.owner}};
  if (!s.annotations.empty()) j["annotations"] = s.annotations;
  return j;
}

std::vector<std::string> list_container_ids(const std::string& root) {
  std::vector<std::string> ids;
  DIR* d = ::opendir(root.c_str());
  if (!d) return ids;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == ".." || name == "seccomp-cache") continue;
    if (path_exists(root + "/" + name + "/state.json")) ids.push_back(name);
  }
  ::closedir(d);
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace kiln::runtime
