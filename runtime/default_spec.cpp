#include "runtime/default_spec.hpp"

#include "runtime/version.hpp"

namespace kiln::runtime {

using json = nlohmann::json;

const std::vector<std::string>& default_capabilities() {
  static const std::vector<std::string> caps = {
      "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
      "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
      "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
      "CAP_KILL",    "CAP_AUDIT_WRITE"};
  return caps;
}

nlohmann::json default_spec() {
  json caps = default_capabilities();
  json spec = {
      {"ociVersion", kOciVersion},
      {"process",
       {{"terminal", false},
        {"user", {{"uid", 0}, {"gid", 0}}},
        {"args", {"sh"}},
        {"env", {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"}},
        {"cwd", "/"},
        {"capabilities", {{"bounding", caps}, {"effective", caps}, {"permitted", caps}}},
        {"rlimits", {{{"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 1024}}}},
        {"noNewPrivileges", true}}},
      {"root", {{"path", "rootfs"}, {"readonly", true}}},
      {"hostname", "kiln"},
      {"mounts",
       {{{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}},
        {{"destination", "/dev"},
         {"type", "tmpfs"},
         {"source", "tmpfs"},
         {"options", {"nosuid", "strictatime", "mode=755", "size=65536k"}}},
        {{"destination", "/dev/pts"},
         {"type", "devpts"},
         {"source", "devpts"},
         {"options", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}}},
        {{"destination", "/dev/shm"},
         {"type", "tmpfs"},
         {"source", "shm"},
         {"options", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}}},
        {{"destination", "/dev/mqueue"},
         {"type", "mqueue"},
         {"source", "mqueue"},
         {"options", {"nosuid", "noexec", "nodev"}}},
        {{"destination", "/sys"},
         {"type", "sysfs"},
         {"source", "sysfs"},
         {"options", {"nosuid", "noexec", "nodev", "ro"}}},
        {{"destination", "/sys/fs/cgroup"},
         {"type", "cgroup"},
         {"source", "cgroup"},
         {"options", {"nosuid", "noexec", "nodev", "relatime", "ro"}}}}},
      {"linux",
       {{"resources", {{"devices", {{{"allow", false}, {"access", "rwm"}}}}}},
        {"namespaces",
         {{{"type", "pid"}}, {{"type", "network"}}, {{"type", "ipc"}}, {{"type", "uts"}}, {{"type", "mount"}}}},
        {"maskedPaths",
         {"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
          "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"}},
        {"readonlyPaths", {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}}}}};
  return spec;
}

json rootless_spec(uid_t uid, gid_t gid) {
  json spec = default_spec();
  json& linux_ = spec["linux"];
  json namespaces = json::array();
  for (const auto& ns : linux_["namespaces"])
    if (ns["type"] != "network") namespaces.push_back(ns);
  namespaces.push_back({{"type", "user"}});
  linux_["namespaces"] = namespaces;
  linux_["uidMappings"] = {{{"containerID", 0}, {"hostID", uid}, {"size", 1}}};
  linux_["gidMappings"] = {{{"containerID", 0}, {"hostID", gid}, {"size", 1}}};
  linux_.erase("resources");
  json mounts = json::array();
  for (json m : spec["mounts"]) {
    if (m["type"] == "sysfs") {
      m = {{"destination", "/sys"},
           {"type", "none"},
           {"source", "/sys"},
           {"options", {"rbind", "nosuid", "noexec", "nodev", "ro"}}};
    } else if (m.contains("options")) {
      json options = json::array();
      for (const auto& o : m["options"])
        if (o.get<std::string>().rfind("gid=", 0) != 0) options.push_back(o);
      m["options"] = options;
    }
    mounts.push_back(m);
  }
  spec["mounts"] = mounts;
  return spec;
}

}  // namespace kiln::runtime
