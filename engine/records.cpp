#include "engine/records.hpp"

#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <filesystem>

#include "common/error.hpp"
#include "common/files.hpp"
#include "common/hex.hpp"
#include "runtime/state.hpp"

namespace kiln::engine {

using json = nlohmann::json;
using runtime::ContainerState;
using runtime::process_alive;
using runtime::StateDir;
using runtime::Status;
namespace {

bool is_hex_id(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return std::isxdigit(static_cast<unsigned char>(c)) && !std::isupper(static_cast<unsigned char>(c));
         });
}

}  // namespace

json record_to_json(const RunRecord& r) {
  json j = {{"id", r.id},
            {"name", r.name},
            {"image", r.image},
            {"image_id", r.image_id},
            {"store", r.store},
            {"command", r.command},
            {"env_keys", r.env_keys},
            {"hostname", r.hostname},
            {"container_dir", r.container_dir},
            {"rootfs", r.rootfs},
            {"read_only", r.read_only},
            {"auto_remove", r.auto_remove},
            {"detached", r.detached},
            {"timeout", r.timeout},
            {"created", r.created},
            {"started", r.started},
            {"finished", r.finished},
            {"timed_out", r.timed_out},
            {"monitor_pid", r.monitor_pid},
            {"monitor_start_time", r.monitor_start_time},
            {"extra", r.extra}};
  if (r.exit_code) j["exit_code"] = *r.exit_code;
  if (!r.exit_note.empty()) j["exit_note"] = r.exit_note;
  return j;
}

RunRecord record_from_json(const json& j) {
  RunRecord r;
  r.id = j.at("id").get<std::string>();
  r.name = j.value("name", "");
  r.image = j.value("image", "");
  r.image_id = j.value("image_id", "");
  r.store = j.value("store", "");
  r.command = j.value("command", std::vector<std::string>{});
  r.env_keys = j.value("env_keys", std::vector<std::string>{});
  r.hostname = j.value("hostname", "");
  r.container_dir = j.value("container_dir", "");
  r.rootfs = j.value("rootfs", "");
  r.read_only = j.value("read_only", false);
  r.auto_remove = j.value("auto_remove", false);
  r.detached = j.value("detached", false);
  r.timeout = j.value("timeout", 0);
  r.created = j.value("created", "");
  r.started = j.value("started", "");
  r.finished = j.value("finished", "");
  if (j.contains("exit_code")) r.exit_code = j["exit_code"].get<int>();
  r.exit_note = j.value("exit_note", "");
  r.timed_out = j.value("timed_out", false);
  r.monitor_pid = j.value("monitor_pid", 0);
  r.monitor_start_time = j.value("monitor_start_time", uint64_t{0});
  r.extra = j.value("extra", json::object());
  return r;
}

RunRecords::RunRecords(std::string run_root) : root_(std::move(run_root)) {
  mkdir_p(root_ + "/containers", 0700);
  mkdir_p(root_ + "/names", 0700);
  mkdir_p(root_ + "/runtime", 0700);
}

std::string RunRecords::new_id() {
  unsigned char bytes[32];
  size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("getrandom for a container id");
    }
    got += static_cast<size_t>(n);
  }
  return lower_hex(bytes, sizeof bytes);
}

void validate_container_name(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 128 && std::isalnum(static_cast<unsigned char>(name[0]));
  for (char c : name) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-');
  if (!ok)
    throw Error("container name \"" + name +
                "\": use letters, digits, '_', '.', '-' (starting with a letter or digit)");
  if (name.size() == 64 && is_hex_id(name)) throw Error("container name " + name + ": looks like an id");
}

void RunRecords::create(RunRecord& r) const {
  if (r.name.empty()) r.name = r.id.substr(0, 12);
  validate_container_name(r.name);
  std::string d = dir(r.id);
  if (::mkdir(d.c_str(), 0700) != 0) throw_errno("create container record " + d);
  std::string link = root_ + "/names/" + r.name;
  if (::symlink(r.id.c_str(), link.c_str()) != 0) {
    int err = errno;
    ::rmdir(d.c_str());
    if (err == EEXIST) {
      std::error_code ec;
      std::string other = std::filesystem::read_symlink(link, ec).string();
      throw Error("name " + r.name + " is already in use by container " + other.substr(0, 12), EEXIST);
    }
    throw_errno("reserve container name " + r.name, err);
  }
  try {
    save(r);
  } catch (...) {
    ::unlink(link.c_str());
    remove_tree(d);
    throw;
  }
}

void RunRecords::save(const RunRecord& r) const {
  write_file_atomic(dir(r.id) + "/record.json", record_to_json(r).dump(), 0600, Sync::in_memory);
}

RunRecord RunRecords::load(const std::string& id) const {
  auto text = read_file_if_exists(dir(id) + "/record.json");
  if (!text) throw Error("no such container: " + id);
  try {
    return record_from_json(json::parse(*text));
  } catch (const json::exception& e) {
    throw Error("container " + id + ": malformed record: " + e.what());
  }
}

std::vector<RunRecord> RunRecords::list() const {
  std::vector<RunRecord> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(root_ + "/containers", ec)) {
    std::string id = e.path().filename().string();
    if (!is_hex_id(id)) continue;
    try {
      out.push_back(load(id));
    } catch (const Error&) {
      // Being created or removed right now.
    }
  }
  std::sort(out.begin(), out.end(), [](const RunRecord& a, const RunRecord& b) { return a.created > b.created; });
  return out;
}

std::string RunRecords::resolve(const std::string& ref) const {
  if (ref.empty()) throw Error("no such container: (empty)");
  if (ref.find('/') == std::string::npos && ref != "." && ref != "..") {
    std::error_code ec;
    auto target = std::filesystem::read_symlink(root_ + "/names/" + ref, ec);
    if (!ec && path_exists(dir(target.string()))) return target.string();
    if (is_hex_id(ref) && path_exists(dir(ref))) return ref;
  }
  std::vector<std::string> matches;
  bool hex = std::all_of(ref.begin(), ref.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
  if (hex) {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(root_ + "/containers", ec)) {
      std::string id = e.path().filename().string();
      if (is_hex_id(id) && id.rfind(ref, 0) == 0) matches.push_back(id);
    }
  }
  if (matches.empty()) throw Error("no such container: " + ref);
  if (matches.size() > 1)
    throw Error("container " + ref + ": ambiguous id prefix (" + std::to_string(matches.size()) + " matches)");
  return matches.front();
}

void RunRecords::remove(const RunRecord& r) const {
  std::string link = root_ + "/names/" + r.name;
  std::error_code ec;
  if (!r.name.empty() && std::filesystem::read_symlink(link, ec).string() == r.id) ::unlink(link.c_str());
  remove_tree(dir(r.id));
}

RunStatus RunRecords::status(const RunRecord& r) const {
  RunStatus s;
  bool container_running = false;
  StateDir sd(runtime_root(), r.id);
  if (sd.exists()) {
    try {
      ContainerState st = sd.load();
      Status cs = current_status(sd, st);
      container_running = cs == Status::running || cs == Status::paused || cs == Status::created;
    } catch (const Error&) {
    }
  }
  s.process_alive = container_running;
  if (r.exit_code || (!r.finished.empty() && !container_running)) {
    s.state = "exited";
    s.exit_code = r.exit_code;
    s.note = r.exit_note;
    return s;
  }
  bool monitor = r.monitor_pid > 0 && process_alive(r.monitor_pid, r.monitor_start_time);
  if (container_running) s.state = "running";
  else if (monitor) s.state = r.started.empty() ? "created" : "running";
  else s.state = "unknown";
  return s;
}

std::string default_run_root() {
  const char* e = std::getenv("KILN_RUN_ROOT");
  return e && *e ? e : "/run/kiln";
}

}  // namespace kiln::engine
