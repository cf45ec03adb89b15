#include "runtime/spec.hpp"

#include <sched.h>
#include <sys/capability.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <filesystem>

#include "common/error.hpp"
#include "common/files.hpp"
#include "common/ids.hpp"
#include "common/json_fields.hpp"
#include "runtime/sysctl.hpp"

namespace kiln::runtime {

using json = nlohmann::json;
namespace {

using json_fields::as_int;
using json_fields::as_string;
using json_fields::as_uint_of;
using json_fields::member;
using json_fields::required_member;
using json_fields::string_list;
[[noreturn]] void bad(const std::string& field, const std::string& why) { json_fields::bad_field(field, why); }

// Absent strings and flags read as empty and false here: the spec's defaults.
std::string opt_string(const json& obj, const char* key, const std::string& where) {
  return json_fields::opt_string(obj, key, where).value_or("");
}
bool opt_bool(const json& obj, const char* key, const std::string& where) {
  return json_fields::opt_bool(obj, key, where).value_or(false);
}

// A user or group id, and never (uint32)-1.
uint32_t get_id(const json& v, const std::string& field) {
  auto id = as_uint_of<uint32_t>(v, field);
  check_id(id, field);
  return id;
}

const json& object_at(const json& obj, const char* key, const std::string& where) {
  static const json empty = json::object();
  const json* v = json_fields::object_member(obj, key, where);
  return v ? *v : empty;
}

std::vector<int> cap_list(const json& caps, const char* key) {
  std::vector<int> out;
  for (const auto& name : string_list(caps, key, "process.capabilities")) {
    try {
      out.push_back(capability_from_name(name));
    } catch (const Error& e) {
      throw e.wrapped(std::string("process.capabilities.") + key);
    }
  }
  return out;
}

std::vector<IdMapping> id_mappings(const json& lin, const char* key) {
  std::vector<IdMapping> out;
  const json* v = member(lin, key);
  if (!v) return out;
  std::string field = std::string("linux.") + key;
  if (!v->is_array()) bad(field, "must be an array");
  for (size_t i = 0; i < v->size(); ++i) {
    const json& m = (*v)[i];
    std::string f = field + "[" + std::to_string(i) + "]";
    if (!m.is_object()) bad(f, "must be an object");
    IdMapping map;
    map.container_id = get_id(required_member(m, "containerID", f), f + ".containerID");
    map.host_id = get_id(required_member(m, "hostID", f), f + ".hostID");
    map.size = as_uint_of<uint32_t>(required_member(m, "size", f), f + ".size");
    if (map.size == 0) bad(f + ".size", "must be at least 1");
    // The range may not reach (uint32)-1 on either side.
    if (uint64_t{map.container_id} + map.size > kNotAnId || uint64_t{map.host_id} + map.size > kNotAnId)
      bad(f + ".size", "the range reaches id 4294967295, which is not a valid id");
    out.push_back(map);
  }
  return out;
}

constexpr std::array<std::pair<const char*, int>, 16> kRlimits{{
    {"RLIMIT_CPU", RLIMIT_CPU},
    {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_DATA", RLIMIT_DATA},
    {"RLIMIT_STACK", RLIMIT_STACK},
    {"RLIMIT_CORE", RLIMIT_CORE},
    {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_NPROC", RLIMIT_NPROC},
    {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
    {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
    {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
    {"RLIMIT_RTTIME", RLIMIT_RTTIME},
}};

constexpr std::array<std::pair<const char*, int>, 8> kNamespaces{{
    {"pid", CLONE_NEWPID},
    {"network", CLONE_NEWNET},
    {"mount", CLONE_NEWNS},
    {"ipc", CLONE_NEWIPC},
    {"uts", CLONE_NEWUTS},
    {"user", CLONE_NEWUSER},
    {"cgroup", CLONE_NEWCGROUP},
    {"time", 0x00000080 /* CLONE_NEWTIME */},
}};

void parse_namespaces(const json& lin, Linux& out) {
  const json* nss = member(lin, "namespaces");
  if (nss) {
    if (!nss->is_array()) bad("linux.namespaces", "must be an array");
    for (size_t i = 0; i < nss->size(); ++i) {
      std::string f = "linux.namespaces[" + std::to_string(i) + "]";
      const json& n = (*nss)[i];
      if (!n.is_object()) bad(f, "must be an object");
      Namespace ns;
      ns.type = as_string(required_member(n, "type", f), f + ".type");
      try {
        ns.clone_flag = namespace_clone_flag(ns.type);
      } catch (const Error& e) {
        throw e.wrapped(f + ".type");
      }
      ns.path = opt_string(n, "path", f);
      if (out.has_namespace(ns.type)) bad(f + ".type", "namespace \"" + ns.type + "\" listed twice");
      out.namespaces.push_back(ns);
    }
  }
}

std::vector<Device> parse_devices(const json& lin) {
  std::vector<Device> out;
  if (const json* devs = member(lin, "devices")) {
    if (!devs->is_array()) bad("linux.devices", "must be an array");
    for (size_t i = 0; i < devs->size(); ++i) {
      std::string f = "linux.devices[" + std::to_string(i) + "]";
      const json& d = (*devs)[i];
      if (!d.is_object()) bad(f, "must be an object");
      Device dev;
      dev.path = as_string(required_member(d, "path", f), f + ".path");
      if (dev.path.empty() || dev.path[0] != '/') bad(f + ".path", "must be absolute: \"" + dev.path + "\"");
      std::string type = as_string(required_member(d, "type", f), f + ".type");
      if (type != "c" && type != "b" && type != "u" && type != "p")
        bad(f + ".type", "unknown device type \"" + type + "\"");
      dev.type = type[0];
      if (dev.type != 'p') {
        dev.major = as_int(required_member(d, "major", f), f + ".major");
        dev.minor = as_int(required_member(d, "minor", f), f + ".minor");
      }
      if (const json* m = member(d, "fileMode")) dev.file_mode = as_uint_of<mode_t>(*m, f + ".fileMode");
      if (const json* u = member(d, "uid")) dev.uid = get_id(*u, f + ".uid");
      if (const json* g = member(d, "gid")) dev.gid = get_id(*g, f + ".gid");
      out.push_back(dev);
    }
  }
  return out;
}

void parse_linux(const json& lin, Spec& spec) {
  Linux& out = spec.linux;
  parse_namespaces(lin, out);
  out.uid_mappings = id_mappings(lin, "uidMappings");
  out.gid_mappings = id_mappings(lin, "gidMappings");
  const Namespace* user = out.find_namespace("user");
  if ((!out.uid_mappings.empty() || !out.gid_mappings.empty()) && !user)
    bad("linux.uidMappings", "id mappings given without a user namespace");
  if (user && user->path.empty() && (out.uid_mappings.empty() || out.gid_mappings.empty()))
    bad("linux.uidMappings", "a new user namespace needs uidMappings and gidMappings");

  out.devices = parse_devices(lin);
  out.cgroups_path = opt_string(lin, "cgroupsPath", "linux");
  if (const json* r = member(lin, "resources")) {
    if (!r->is_object()) bad("linux.resources", "must be an object");
    out.resources = cgroups::parse_resources(*r);
  }
  for (const auto& [k, v] : object_at(lin, "sysctl", "linux").items())
    out.sysctl[k] = as_string(v, "linux.sysctl." + k);
  validate_sysctl(out);
  out.masked_paths = string_list(lin, "maskedPaths", "linux");
  out.readonly_paths = string_list(lin, "readonlyPaths", "linux");
  out.rootfs_propagation = opt_string(lin, "rootfsPropagation", "linux");
  if (!out.rootfs_propagation.empty()) {
    static const char* allowed[] = {"private", "rprivate", "slave",      "rslave",
                                    "shared",  "rshared",  "unbindable", "runbindable"};
    bool ok = false;
    for (const char* a : allowed) ok = ok || out.rootfs_propagation == a;
    if (!ok) bad("linux.rootfsPropagation", "unknown propagation \"" + out.rootfs_propagation + "\"");
  }
  if (const json* s = member(lin, "seccomp")) {
    if (!s->is_object()) bad("linux.seccomp", "must be an object");
    out.seccomp = parse_seccomp_config(*s);
  }
  if (const json* p = member(lin, "personality")) {
    if (!p->is_object()) bad("linux.personality", "must be an object");
    std::string domain = as_string(required_member(*p, "domain", "linux.personality"), "linux.personality.domain");
    if (domain == "LINUX") out.personality = 0x0000;
    else if (domain == "LINUX32") out.personality = 0x0008;
    else bad("linux.personality.domain", "unknown domain \"" + domain + "\"");
  }
  if (const json* m = member(lin, "memoryPolicy")) out.memory_policy = parse_memory_policy(*m, "linux.memoryPolicy");
  // Accepted by runc 1.3 and crun; kiln-runtime has neither yet: refused, never ignored.
  if (const json* n = member(lin, "netDevices"); n && !n->empty())
    bad("linux.netDevices", "moving host network devices into a container is not supported by kiln-runtime");
  if (member(lin, "intelRdt"))
    bad("linux.intelRdt", ::access("/sys/fs/resctrl/schemata", F_OK) == 0
                              ? "Intel RDT (resctrl) is not supported by kiln-runtime"
                              : "this machine has no resctrl filesystem at /sys/fs/resctrl (Intel RDT)");
  for (const auto& [clock, off] : object_at(lin, "timeOffsets", "linux").items()) {
    std::string f = "linux.timeOffsets." + clock;
    if (clock != "monotonic" && clock != "boottime") bad(f, "unknown clock");
    if (!off.is_object()) bad(f, "must be an object");
    int64_t secs = member(off, "secs") ? as_int(off["secs"], f + ".secs") : 0;
    uint32_t nsecs = member(off, "nanosecs") ? as_uint_of<uint32_t>(off["nanosecs"], f + ".nanosecs") : 0;
    out.time_offsets[clock] = {secs, nsecs};
  }
  out.mount_label = opt_string(lin, "mountLabel", "linux");
}

}  // namespace

bool Linux::has_namespace(const std::string& type) const { return find_namespace(type) != nullptr; }

const Namespace* Linux::find_namespace(const std::string& type) const {
  for (const auto& ns : namespaces)
    if (ns.type == type) return &ns;
  return nullptr;
}

int capability_from_name(const std::string& name) {
  std::string lower = name;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  cap_value_t value;
  // libcap accepts "cap_chown"; the spec uses "CAP_CHOWN". Anything without the prefix is unknown.
  if (lower.rfind("cap_", 0) != 0 || cap_from_name(lower.c_str(), &value) != 0 || value < 0 || value > CAP_LAST_CAP)
    throw Error("capability \"" + name + "\": unknown");
  return value;
}

int rlimit_from_name(const std::string& name) {
  for (const auto& [n, v] : kRlimits)
    if (name == n) return v;
  throw Error("rlimit \"" + name + "\": unknown");
}

int namespace_clone_flag(const std::string& type) {
  for (const auto& [n, v] : kNamespaces)
    if (type == n) return v;
  throw Error("namespace type \"" + type + "\": unknown");
}

Process parse_process(const json& p, const std::string& where) {
  if (!p.is_object()) bad(where, "must be an object");
  Process out;
  out.terminal = opt_bool(p, "terminal", where);
  const json& cs = object_at(p, "consoleSize", where);
  if (const json* h = member(cs, "height"))
    out.console_height = as_uint_of<unsigned>(*h, where + ".consoleSize.height");
  if (const json* w = member(cs, "width")) out.console_width = as_uint_of<unsigned>(*w, where + ".consoleSize.width");
  const json& u = object_at(p, "user", where);
  std::string uw = where + ".user";
  if (const json* v = member(u, "uid")) out.user.uid = get_id(*v, uw + ".uid");
  if (const json* v = member(u, "gid")) out.user.gid = get_id(*v, uw + ".gid");
  if (const json* v = member(u, "umask")) out.user.umask = as_uint_of<mode_t>(*v, uw + ".umask");
  if (const json* v = member(u, "additionalGids")) {
    if (!v->is_array()) bad(uw + ".additionalGids", "must be an array");
    for (size_t i = 0; i < v->size(); ++i)
      out.user.additional_gids.push_back(get_id((*v)[i], uw + ".additionalGids[" + std::to_string(i) + "]"));
  }
  out.args = string_list(p, "args", where);
  if (out.args.empty()) bad(where + ".args", "must name the program to run");
  if (const json* cl = member(p, "commandLine")) (void)as_string(*cl, where + ".commandLine");
  out.env = string_list(p, "env", where);
  for (size_t i = 0; i < out.env.size(); ++i)
    if (out.env[i].find('=') == std::string::npos || out.env[i][0] == '=')
      // Name the entry by index and key only: the value may be a secret.
      bad(where + ".env[" + std::to_string(i) + "]", "must be KEY=VALUE");
  out.cwd = as_string(required_member(p, "cwd", where), where + ".cwd");
  if (out.cwd.empty() || out.cwd[0] != '/') bad(where + ".cwd", "must be an absolute path: \"" + out.cwd + "\"");
  const json& caps = object_at(p, "capabilities", where);
  out.capabilities.bounding = cap_list(caps, "bounding");
  out.capabilities.effective = cap_list(caps, "effective");
  out.capabilities.permitted = cap_list(caps, "permitted");
  out.capabilities.inheritable = cap_list(caps, "inheritable");
  out.capabilities.ambient = cap_list(caps, "ambient");
  if (const json* rl = member(p, "rlimits")) {
    if (!rl->is_array()) bad(where + ".rlimits", "must be an array");
    for (size_t i = 0; i < rl->size(); ++i) {
      std::string f = where + ".rlimits[" + std::to_string(i) + "]";
      const json& r = (*rl)[i];
      if (!r.is_object()) bad(f, "must be an object");
      Rlimit lim;
      lim.name = as_string(required_member(r, "type", f), f + ".type");
      try {
        lim.resource = rlimit_from_name(lim.name);
      } catch (const Error& e) {
        throw e.wrapped(f + ".type");
      }
      lim.soft = as_uint_of<uint64_t>(required_member(r, "soft", f), f + ".soft");
      lim.hard = as_uint_of<uint64_t>(required_member(r, "hard", f), f + ".hard");
      if (lim.soft > lim.hard)
        bad(f, "soft limit " + std::to_string(lim.soft) + " is above the hard limit " + std::to_string(lim.hard));
      for (const auto& prev : out.rlimits)
        if (prev.resource == lim.resource) bad(f + ".type", "rlimit " + lim.name + " given twice");
      out.rlimits.push_back(lim);
    }
  }
  if (const json* o = member(p, "oomScoreAdj")) {
    int64_t v = as_int(*o, where + ".oomScoreAdj");
    if (v < -1000 || v > 1000) bad(where + ".oomScoreAdj", "must be between -1000 and 1000");
    out.oom_score_adj = static_cast<int>(v);
  }
  out.no_new_privileges = opt_bool(p, "noNewPrivileges", where);
  out.apparmor_profile = opt_string(p, "apparmorProfile", where);
  out.selinux_label = opt_string(p, "selinuxLabel", where);
  if (const json* sc = member(p, "scheduler")) out.scheduler = parse_scheduler(*sc, where + ".scheduler");
  if (const json* io = member(p, "ioPriority")) out.io_priority = parse_io_priority(*io, where + ".ioPriority");
  return out;
}

Spec parse_spec(const json& config, const std::string& bundle) {
  if (!config.is_object()) bad("config", "must be a JSON object");
  Spec spec;
  spec.bundle = bundle;
  spec.oci_version = as_string(required_member(config, "ociVersion", "config"), "ociVersion");
  if (spec.oci_version.rfind("1.", 0) != 0)
    bad("ociVersion", "unsupported version \"" + spec.oci_version + "\" (need 1.x)");
  const json& root = required_member(config, "root", "config");
  if (!root.is_object()) bad("root", "must be an object");
  spec.root_path = as_string(required_member(root, "path", "root"), "root.path");
  if (spec.root_path.empty()) bad("root.path", "must not be empty");
  if (spec.root_path[0] != '/') spec.root_path = bundle + "/" + spec.root_path;
  spec.root_readonly = opt_bool(root, "readonly", "root");
  if (const json* p = member(config, "process")) {
    spec.process = parse_process(*p, "process");
    spec.has_process = true;
  }
  spec.hostname = opt_string(config, "hostname", "config");
  spec.domainname = opt_string(config, "domainname", "config");
  if (const json* ms = member(config, "mounts")) {
    if (!ms->is_array()) bad("mounts", "must be an array");
    for (size_t i = 0; i < ms->size(); ++i) {
      std::string f = "mounts[" + std::to_string(i) + "]";
      const json& m = (*ms)[i];
      if (!m.is_object()) bad(f, "must be an object");
      Mount mount;
      mount.destination = as_string(required_member(m, "destination", f), f + ".destination");
      if (mount.destination.empty() || mount.destination[0] != '/')
        bad(f + ".destination", "must be an absolute path: \"" + mount.destination + "\"");
      mount.type = opt_string(m, "type", f);
      mount.source = opt_string(m, "source", f);
      mount.options = string_list(m, "options", f);
      spec.mounts.push_back(mount);
    }
  }
  const json& lin = object_at(config, "linux", "");
  parse_linux(lin, spec);
  if (!spec.hostname.empty() && !spec.linux.has_namespace("uts"))
    bad("hostname", "setting a hostname needs a new uts namespace");
  if (const json* h = member(config, "hooks")) {
    spec.hooks = parse_hooks(*h);
  }
  for (const auto& [k, v] : object_at(config, "annotations", "").items())
    spec.annotations[k] = as_string(v, "annotations." + k);
  return spec;
}

Spec load_spec(const std::string& bundle_in) {
  std::error_code ec;
  std::string bundle = std::filesystem::absolute(bundle_in, ec).lexically_normal().string();
  if (bundle.size() > 1 && bundle.back() == '/') bundle.pop_back();
  struct stat st;
  if (::stat(bundle.c_str(), &st) != 0) throw_errno("bundle " + bundle);
  if (!S_ISDIR(st.st_mode)) throw Error("bundle " + bundle + ": not a directory");
  std::string path = bundle + "/config.json";
  std::string text = read_file(path);
  json config;
  try {
    config = json::parse(text);
  } catch (const json::parse_error& e) {
    throw Error(path + ": malformed JSON: " + e.what());
  }
  try {
    return parse_spec(config, bundle);
  } catch (const Error& e) {
    throw e.wrapped(path);
  }
}

std::vector<std::string> namespace_type_names() {
  std::vector<std::string> out;
  for (const auto& [name, flag] : kNamespaces) out.emplace_back(name);
  return out;
}

}  // namespace kiln::runtime
