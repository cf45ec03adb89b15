#include "engine/container_spec.hpp"

#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <set>
#include <string_view>

#include "common/byte_size.hpp"
#include "common/error.hpp"
#include "common/user_namespace.hpp"
#include "common/env.hpp"
#include "common/files.hpp"
#include "runtime/default_spec.hpp"
#include "engine/default_seccomp.hpp"

namespace kiln::engine {

using json = nlohmann::json;
using runtime::default_capabilities;
using runtime::default_spec;
namespace {

constexpr const char* kDefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
constexpr uint64_t kNofile = 1024;
constexpr int64_t kCpuPeriod = 100000;

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// Every capability this kernel knows and kiln itself may pass on (its own bounding set: a
// capability kiln lacks cannot be granted), as "CAP_NAME": what "ALL" means.
std::vector<std::string> all_capabilities() {
  std::vector<std::string> out;
  for (int i = 0; cap_valid(i) && i < static_cast<int>(cap_max_bits()); ++i) {
    if (::prctl(PR_CAPBSET_READ, i) != 1) continue;
    char* name = cap_to_name(static_cast<cap_value_t>(i));
    if (!name) continue;
    std::string n = upper(name);
    cap_free(name);
    if (n.rfind("CAP_", 0) == 0) out.push_back(n);
  }
  return out;
}

std::string canonical_cap(const std::string& name) {
  std::string n = upper(name);
  if (n == "ALL") return n;
  if (n.rfind("CAP_", 0) != 0) n = "CAP_" + n;
  cap_value_t v;
  if (cap_from_name(n.c_str(), &v) != 0) throw Error("capability " + name + ": unknown");
  return n;
}

}  // namespace

int64_t parse_memory(const std::string& text) {
  int64_t bytes = parse_byte_size(text, "memory");
  if (bytes < (int64_t{6} << 20)) throw Error("memory " + text + ": below the minimum of 6m");
  return bytes;
}

double parse_cpus(const std::string& text) {
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    throw Error("cpus " + text + ": not a number");
  }
  if (used != text.size() || !std::isfinite(v)) throw Error("cpus " + text + ": not a number");
  if (v < 0.01) throw Error("cpus " + text + ": must be at least 0.01");
  if (v > 1024) throw Error("cpus " + text + ": too large");
  return v;
}

Ulimit parse_ulimit(const std::string& text) {
  static const char* const names[] = {"core",   "cpu",   "data", "fsize",  "locks",  "memlock",    "msgqueue", "nice",
                                      "nofile", "nproc", "rss",  "rtprio", "rttime", "sigpending", "stack",    "as"};
  auto bad = [&](const std::string& why) { return Error("ulimit " + text + ": " + why, EINVAL); };
  size_t eq = text.find('=');
  if (eq == std::string::npos) throw bad("want NAME=SOFT[:HARD]");
  std::string name = text.substr(0, eq);
  bool known = false;
  for (const char* n : names) known = known || name == n;
  if (!known) throw bad("unknown limit \"" + name + "\"");
  auto number = [&](const std::string& v) -> uint64_t {
    if (v == "-1" || v == "unlimited") return RLIM_INFINITY;
    uint64_t n = 0;
    auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (v.empty() || ec != std::errc() || ptr != v.data() + v.size()) throw bad("\"" + v + "\" is not a number");
    return n;
  };
  std::string values = text.substr(eq + 1);
  size_t colon = values.find(':');
  Ulimit u;
  u.soft = number(values.substr(0, colon));
  u.hard = colon == std::string::npos ? u.soft : number(values.substr(colon + 1));
  if (u.soft > u.hard) throw bad("soft limit above the hard one");
  u.type = "RLIMIT_";
  for (char c : name) u.type += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return u;
}

VolumeSpec parse_volume(const std::string& text) {
  VolumeSpec v;
  size_t a = text.find(':');
  if (a == std::string::npos) throw Error("volume " + text + ": expected HOST:CONTAINER[:ro]");
  v.host = text.substr(0, a);
  std::string rest = text.substr(a + 1);
  size_t b = rest.find(':');
  v.container = rest.substr(0, b);
  if (b != std::string::npos) {
    std::string mode = rest.substr(b + 1);
    if (mode == "ro") v.read_only = true;
    else if (mode != "rw") throw Error("volume " + text + ": unknown mode " + mode + " (use ro or rw)");
  }
  if (v.host.empty() || v.host[0] != '/') throw Error("volume " + text + ": host path must be absolute");
  if (v.container.empty() || v.container[0] != '/') throw Error("volume " + text + ": container path must be absolute");
  if (v.container == "/") throw Error("volume " + text + ": cannot mount over /");
  return v;
}

std::optional<std::string> expand_env(const std::string& text, const char* (*lookup)(const char*)) {
  size_t eq = text.find('=');
  std::string key = text.substr(0, eq);
  if (key.empty()) throw Error("env: an entry has an empty name");
  // A name with whitespace is usually a line missing its '=' ("PASSWORD hunter2"): what follows the
  // space may be a secret, so the error quotes none of it.
  if (key.find_first_of(std::string_view(" \t\n\0", 4)) != std::string::npos)
    throw Error("env: a name contains whitespace or a NUL byte (is the '=' missing?)");
  if (eq != std::string::npos) return text;
  const char* v = lookup ? lookup(key.c_str()) : nullptr;
  if (!v) return std::nullopt;
  return key + "=" + v;
}

std::vector<std::string> parse_env_file_text(const std::string& text, const std::string& path,
                                             const char* (*lookup)(const char*)) {
  std::vector<std::string> out;
  size_t pos = 0;
  int line_no = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string line = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;
    line = line.substr(start);
    try {
      if (auto e = expand_env(line, lookup)) out.push_back(*e);
    } catch (const Error& e) {
      throw Error("env file " + path + ": line " + std::to_string(line_no) + ": " + e.what());
    }
  }
  return out;
}

std::vector<std::string> effective_capabilities(const std::vector<std::string>& add,
                                                const std::vector<std::string>& drop) {
  std::vector<std::string> caps = default_capabilities();
  std::set<std::string> dropped;
  bool drop_all = false;
  for (const auto& d : drop) {
    std::string c = canonical_cap(d);
    if (c == "ALL") drop_all = true;
    else dropped.insert(c);
  }
  if (drop_all) caps.clear();
  std::erase_if(caps, [&](const std::string& c) { return dropped.count(c) > 0; });
  for (const auto& a : add) {
    std::string c = canonical_cap(a);
    std::vector<std::string> more = c == "ALL" ? all_capabilities() : std::vector<std::string>{c};
    for (const auto& m : more)
      if (std::find(caps.begin(), caps.end(), m) == caps.end() && (c == "ALL" || !dropped.count(m))) caps.push_back(m);
  }
  return caps;
}

std::vector<std::string> process_args(const ImageDefaults& image, const RunFlags& flags) {
  std::vector<std::string> args = image.entrypoint;
  const auto& cmd = flags.command.empty() ? image.cmd : flags.command;
  args.insert(args.end(), cmd.begin(), cmd.end());
  if (args.empty()) throw Error("no command: the image has no Entrypoint or Cmd and none was given");
  return args;
}

std::vector<std::string> merge_env(const ImageDefaults& image, const RunFlags& flags, const std::string& hostname) {
  std::vector<std::string> env;
  auto set = [&env](const std::string& entry) { set_env(env, entry); };
  set(kDefaultPath);
  if (!hostname.empty()) set("HOSTNAME=" + hostname);
  if (flags.tty) set("TERM=xterm");
  for (const auto& e : image.env) set(e);
  for (const auto& e : flags.env) set(e);
  return env;
}

std::vector<std::string> env_keys(const std::vector<std::string>& env) {
  std::vector<std::string> keys;
  for (const auto& e : env) keys.emplace_back(env_key(e));
  return keys;
}

std::string container_hostname(const SpecInputs& in) {
  const RunFlags& f = in.flags;
  if (!f.hostname.empty()) return f.hostname;
  return f.host_network ? "" : in.id.substr(0, 12);
}

void apply_image_process(json& p, const ImageDefaults& image, const RunFlags& f, const ResolvedProcessUser& user,
                         const std::string& hostname) {
  p["args"] = process_args(image, f);
  p["env"] = merge_env(image, f, hostname);
  std::string cwd = !f.workdir.empty() ? f.workdir : !image.working_dir.empty() ? image.working_dir : "/";
  if (cwd[0] != '/') throw Error("workdir " + cwd + ": must be absolute");
  p["cwd"] = cwd;
  p["user"] = {{"uid", user.uid}, {"gid", user.gid}};
  if (!user.additional_gids.empty()) p["user"]["additionalGids"] = user.additional_gids;
}

ImageDefaults image_defaults(const image::ImageConfig& config) {
  const auto& c = config.config;
  return {c.entrypoint, c.cmd, c.env, c.working_dir, c.user};
}

json build_run_spec(const SpecInputs& in) {
  const RunFlags& f = in.flags;
  json spec = default_spec();
  // devpts' gid=5 (tty) does not exist in a rootless session without a range: leave it out.
  if (!gid_mapped(5))
    for (auto& m : spec["mounts"])
      if (m.value("type", "") == "devpts") {
        json kept = json::array();
        for (const auto& o : m["options"])
          if (o.get<std::string>().rfind("gid=", 0) != 0) kept.push_back(o);
        m["options"] = kept;
      }
  std::string hostname = container_hostname(in);

  json& p = spec["process"];
  p["terminal"] = f.tty;
  apply_image_process(p, in.image, f, in.user, hostname);
  std::vector<std::string> caps = effective_capabilities(f.cap_add, f.cap_drop);
  // docker: a non-root process keeps the bounding set but starts with no capabilities.
  json none = json::array();
  p["capabilities"] = {{"bounding", caps},
                       {"effective", in.user.uid == 0 ? json(caps) : none},
                       {"permitted", in.user.uid == 0 ? json(caps) : none}};
  uint64_t nofile = kNofile;
  if (in.nofile_hard_limit != 0) nofile = std::min(nofile, in.nofile_hard_limit);
  p["rlimits"] = json::array();
  bool own_nofile = false;
  for (const Ulimit& u : f.ulimits) {
    p["rlimits"].push_back({{"type", u.type}, {"hard", u.hard}, {"soft", u.soft}});
    own_nofile = own_nofile || u.type == "RLIMIT_NOFILE";
  }
  if (!own_nofile) p["rlimits"].push_back({{"type", "RLIMIT_NOFILE"}, {"hard", nofile}, {"soft", nofile}});
  p["noNewPrivileges"] = true;

  spec["root"] = {{"path", in.rootfs}, {"readonly", f.read_only}};
  if (hostname.empty()) spec.erase("hostname");
  else spec["hostname"] = hostname;

  if (!in.etc_dir.empty()) {
    for (const char* name : {"hostname", "hosts", "resolv.conf"}) {
      json opts = {"bind", "rprivate", "nosuid", "nodev", "noexec"};
      if (f.read_only) opts.push_back("ro");
      spec["mounts"].push_back({{"destination", std::string("/etc/") + name},
                                {"type", "bind"},
                                {"source", in.etc_dir + "/etc-" + name},
                                {"options", opts}});
    }
  }
  // After the /etc files: a volume may replace them.
  for (const auto& v : f.volumes) {
    json opts = {"rbind", "rprivate"};
    if (v.read_only) opts.push_back("ro");
    spec["mounts"].push_back({{"destination", v.container}, {"type", "bind"}, {"source", v.host}, {"options", opts}});
  }

  json& linux = spec["linux"];
  if (f.host_network) {
    json ns = json::array();
    for (const auto& n : linux["namespaces"])
      if (n["type"] != "network") ns.push_back(n);
    linux["namespaces"] = ns;
    // sysfs of the host's network namespace cannot be mounted from a new mount namespace
    // without CAP_SYS_ADMIN over it; bind it read-only instead (what runc/podman do).
    for (auto& m : spec["mounts"])
      if (m["destination"] == "/sys")
        m = {{"destination", "/sys"},
             {"type", "bind"},
             {"source", "/sys"},
             {"options", {"rbind", "nosuid", "noexec", "nodev", "ro"}}};
  }
  if (!f.host_network && !f.netns_path.empty())
    for (auto& n : linux["namespaces"])
      if (n["type"] == "network") n["path"] = f.netns_path;
  // Rootless: no path, so that the runtime picks the user's delegated cgroup v2 subtree if any.
  if (in_initial_user_namespace() && ::geteuid() == 0) linux["cgroupsPath"] = "/kiln/" + in.id;
  json& res = linux["resources"];
  if (f.memory) res["memory"] = {{"limit", *f.memory}};
  if (f.pids_limit) res["pids"] = {{"limit", *f.pids_limit}};
  if (f.cpus)
    res["cpu"] = {{"quota", static_cast<int64_t>(std::llround(*f.cpus * kCpuPeriod))}, {"period", kCpuPeriod}};

  if (f.seccomp.empty()) linux["seccomp"] = json::parse(default_seccomp_json());
  else if (f.seccomp != "unconfined")
    linux["seccomp"] = with_context("seccomp profile " + f.seccomp, [&] {
      try {
        return json::parse(read_file(f.seccomp));
      } catch (const json::exception& e) {
        throw Error(std::string("malformed JSON: ") + e.what());
      }
    });
  return spec;
}

}  // namespace kiln::engine
