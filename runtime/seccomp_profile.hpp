// The OCI linux.seccomp object as a typed model, and its parser.
// Parsing only validates and converts names (actions, operators, architectures, flags) to the
// kernel/libseccomp values; turning syscall names into numbers is libseccomp's job at compile time
// (seccomp_compile.hpp) because numbers differ per architecture.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace kiln::runtime {

enum class SeccompAction { kill_thread, kill_process, trap, errno_ret, trace, allow, log, notify };

enum class SeccompOp { ne, lt, le, eq, ge, gt, masked_eq };

struct SeccompArg {
  unsigned int index = 0;       // 0..5
  std::uint64_t value = 0;      // for masked_eq: the mask
  std::uint64_t value_two = 0;  // for masked_eq: the value compared after masking
  SeccompOp op = SeccompOp::eq;
};

struct SeccompRule {
  std::vector<std::string> names;
  SeccompAction action = SeccompAction::allow;
  std::uint32_t errno_ret = 1;  // used by errno_ret and trace; the spec's default is EPERM
  std::vector<SeccompArg> args;
};

struct SeccompProfile {
  SeccompAction default_action = SeccompAction::allow;
  std::uint32_t default_errno_ret = 1;       // EPERM unless defaultErrnoRet says otherwise
  std::vector<std::uint32_t> architectures;  // libseccomp SCMP_ARCH_* tokens
  unsigned int flags = 0;                    // SECCOMP_FILTER_FLAG_* from linux.seccomp.flags
  std::string listener_path;
  std::string listener_metadata;
  std::vector<SeccompRule> syscalls;

  // True when the default or any rule uses SCMP_ACT_NOTIFY (the filter needs a listener fd).
  bool uses_notify() const;
};

// Parses linux.seccomp. Throws kiln::Error naming the field, e.g.
// "linux.seccomp.syscalls[3].action: unknown action SCMP_ACT_FOO".
SeccompProfile parse_seccomp(const nlohmann::json& seccomp);

// linux.seccomp as config.json gave it, parsed once: the profile, and the object's canonical
// text (nlohmann's dump sorts keys), which keys the compiled-filter cache.
struct SeccompConfig {
  SeccompProfile profile;
  std::string canonical;
};
SeccompConfig parse_seccomp_config(const nlohmann::json& seccomp);

// "SCMP_ARCH_X86_64" -> token; nullopt for a name libseccomp does not know.
std::optional<std::uint32_t> seccomp_arch_token(std::string_view name);

// The names parse_seccomp accepts (what `features` reports), and the flags this kernel has.
std::vector<std::string> seccomp_action_names();
std::vector<std::string> seccomp_operator_names();
std::vector<std::string> seccomp_flag_names();
std::vector<std::string> seccomp_arch_names();
std::vector<std::string> seccomp_kernel_flag_names();

}  // namespace kiln::runtime
