// kiln-runtime features: what this runtime supports, in the runtime-spec "features" JSON.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/command_registry.hpp"
#include "runtime/version.hpp"

namespace {
kiln::cli::RegisterCommand reg(
    "features", "print the supported features as JSON", [](kiln::cli::Command&) -> kiln::cli::Action {
      return [] {
        using json = nlohmann::json;
        json caps = json::array();
        for (const char* c : {"CAP_CHOWN",
                              "CAP_DAC_OVERRIDE",
                              "CAP_DAC_READ_SEARCH",
                              "CAP_FOWNER",
                              "CAP_FSETID",
                              "CAP_KILL",
                              "CAP_SETGID",
                              "CAP_SETUID",
                              "CAP_SETPCAP",
                              "CAP_LINUX_IMMUTABLE",
                              "CAP_NET_BIND_SERVICE",
                              "CAP_NET_BROADCAST",
                              "CAP_NET_ADMIN",
                              "CAP_NET_RAW",
                              "CAP_IPC_LOCK",
                              "CAP_IPC_OWNER",
                              "CAP_SYS_MODULE",
                              "CAP_SYS_RAWIO",
                              "CAP_SYS_CHROOT",
                              "CAP_SYS_PTRACE",
                              "CAP_SYS_PACCT",
                              "CAP_SYS_ADMIN",
                              "CAP_SYS_BOOT",
                              "CAP_SYS_NICE",
                              "CAP_SYS_RESOURCE",
                              "CAP_SYS_TIME",
                              "CAP_SYS_TTY_CONFIG",
                              "CAP_MKNOD",
                              "CAP_LEASE",
                              "CAP_AUDIT_WRITE",
                              "CAP_AUDIT_CONTROL",
                              "CAP_SETFCAP",
                              "CAP_MAC_OVERRIDE",
                              "CAP_MAC_ADMIN",
                              "CAP_SYSLOG",
                              "CAP_WAKE_ALARM",
                              "CAP_BLOCK_SUSPEND",
                              "CAP_AUDIT_READ",
                              "CAP_PERFMON",
                              "CAP_BPF",
                              "CAP_CHECKPOINT_RESTORE"})
          caps.push_back(c);
        json features = {
            {"ociVersionMin", "1.0.0"},
            {"ociVersionMax", kiln::runtime::kOciVersion},
            {"hooks", {"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}},
            {"mountOptions", {"async",         "atime",   "bind",    "dev",         "diratime", "dirsync", "exec",
                              "mand",          "noatime", "nodev",   "nodiratime",  "noexec",   "nomand",  "norelatime",
                              "nostrictatime", "nosuid",  "private", "rbind",       "relatime", "remount", "ro",
                              "rprivate",      "rshared", "rslave",  "runbindable", "rw",       "shared",  "slave",
                              "strictatime",   "suid",    "sync",    "unbindable"}},
            {"linux",
             {{"namespaces", {"cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"}},
              {"capabilities", caps},
              {"cgroup", {{"v1", true}, {"v2", true}, {"systemd", false}, {"systemdUser", false}}},
              {"seccomp",
               {{"enabled", true},
                {"actions",
                 {"SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
                  "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"}},
                {"operators",
                 {"SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ",
                  "SCMP_CMP_NE"}},
                {"archs",
                 {"SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"}}}},
              {"apparmor", {{"enabled", false}}},
              {"selinux", {{"enabled", false}}}}},
            {"annotations", {{"org.opencontainers.runc.checkpoint.enabled", "false"}}}};
        std::printf("%s\n", features.dump(2).c_str());
        return 0;
      };
    });
}  // namespace
