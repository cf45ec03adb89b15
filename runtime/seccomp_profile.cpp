#include "runtime/seccomp_profile.hpp"

#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <utility>

#include "common/error.hpp"
#include "common/json_fields.hpp"

namespace kiln::runtime {

using json = nlohmann::json;
namespace {

constexpr std::array<std::pair<std::string_view, SeccompAction>, 9> kSeccompActions{{
    {"SCMP_ACT_KILL", SeccompAction::kill_thread},
    {"SCMP_ACT_KILL_THREAD", SeccompAction::kill_thread},
    {"SCMP_ACT_KILL_PROCESS", SeccompAction::kill_process},
    {"SCMP_ACT_TRAP", SeccompAction::trap},
    {"SCMP_ACT_ERRNO", SeccompAction::errno_ret},
    {"SCMP_ACT_TRACE", SeccompAction::trace},
    {"SCMP_ACT_ALLOW", SeccompAction::allow},
    {"SCMP_ACT_LOG", SeccompAction::log},
    {"SCMP_ACT_NOTIFY", SeccompAction::notify},
}};

constexpr std::array<std::pair<std::string_view, SeccompOp>, 7> kSeccompOps{{
    {"SCMP_CMP_NE", SeccompOp::ne},
    {"SCMP_CMP_LT", SeccompOp::lt},
    {"SCMP_CMP_LE", SeccompOp::le},
    {"SCMP_CMP_EQ", SeccompOp::eq},
    {"SCMP_CMP_GE", SeccompOp::ge},
    {"SCMP_CMP_GT", SeccompOp::gt},
    {"SCMP_CMP_MASKED_EQ", SeccompOp::masked_eq},
}};

// The flags the spec lists (plus TSYNC, which runc accepts too). NEW_LISTENER is not a user
// flag: the compiler sets it when an action is SCMP_ACT_NOTIFY.
constexpr std::array<std::pair<std::string_view, unsigned int>, 4> kSeccompFlags{{
    {"SECCOMP_FILTER_FLAG_TSYNC", SECCOMP_FILTER_FLAG_TSYNC},
    {"SECCOMP_FILTER_FLAG_LOG", SECCOMP_FILTER_FLAG_LOG},
    {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW},
    {"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", 1U << 5},
}};

constexpr std::array<std::pair<std::string_view, std::uint32_t>, 19> kSeccompArches{{
    {"SCMP_ARCH_X86", SCMP_ARCH_X86},
    {"SCMP_ARCH_X86_64", SCMP_ARCH_X86_64},
    {"SCMP_ARCH_X32", SCMP_ARCH_X32},
    {"SCMP_ARCH_ARM", SCMP_ARCH_ARM},
    {"SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64},
    {"SCMP_ARCH_MIPS", SCMP_ARCH_MIPS},
    {"SCMP_ARCH_MIPS64", SCMP_ARCH_MIPS64},
    {"SCMP_ARCH_MIPS64N32", SCMP_ARCH_MIPS64N32},
    {"SCMP_ARCH_MIPSEL", SCMP_ARCH_MIPSEL},
    {"SCMP_ARCH_MIPSEL64", SCMP_ARCH_MIPSEL64},
    {"SCMP_ARCH_MIPSEL64N32", SCMP_ARCH_MIPSEL64N32},
    {"SCMP_ARCH_PPC", SCMP_ARCH_PPC},
    {"SCMP_ARCH_PPC64", SCMP_ARCH_PPC64},
    {"SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE},
    {"SCMP_ARCH_S390", SCMP_ARCH_S390},
    {"SCMP_ARCH_S390X", SCMP_ARCH_S390X},
    {"SCMP_ARCH_PARISC", SCMP_ARCH_PARISC},
    {"SCMP_ARCH_PARISC64", SCMP_ARCH_PARISC64},
    {"SCMP_ARCH_RISCV64", SCMP_ARCH_RISCV64},
}};

constexpr std::string_view kField = "linux.seccomp";

using json_fields::member;
[[noreturn]] void fail(const std::string& field, const std::string& reason) { json_fields::bad_field(field, reason); }
std::string expect_string(const json& v, const std::string& field) { return json_fields::as_string(v, field); }
std::uint64_t expect_u64(const json& v, const std::string& field) { return json_fields::as_uint(v, field); }

std::uint32_t expect_errno(const json& v, const std::string& field) {
  std::uint64_t n = expect_u64(v, field);
  // The kernel carries the errno in the low 16 bits of the action (SECCOMP_RET_DATA).
  if (n > 0xffff) fail(field, "errno " + std::to_string(n) + " out of range");
  return static_cast<std::uint32_t>(n);
}

SeccompAction parse_action(const json& v, const std::string& field) {
  std::string name = expect_string(v, field);
  for (const auto& [n, a] : kSeccompActions)
    if (n == name) return a;
  fail(field, "unknown action " + name);
}

SeccompOp parse_op(const json& v, const std::string& field) {
  std::string name = expect_string(v, field);
  for (const auto& [n, o] : kSeccompOps)
    if (n == name) return o;
  fail(field, "unknown operator " + name);
}

unsigned int parse_flag(const json& v, const std::string& field) {
  std::string name = expect_string(v, field);
  for (const auto& [n, f] : kSeccompFlags)
    if (n == name) return f;
  fail(field, "unknown flag " + name);
}

SeccompArg parse_arg(const json& v, const std::string& field) {
  if (!v.is_object()) fail(field, "must be an object");
  SeccompArg arg;
  const json* index = member(v, "index");
  if (!index) fail(field + ".index", "missing");
  std::uint64_t i = expect_u64(*index, field + ".index");
  if (i > 5) fail(field + ".index", "must be 0..5, got " + std::to_string(i));
  arg.index = static_cast<unsigned int>(i);
  const json* value = member(v, "value");
  if (!value) fail(field + ".value", "missing");
  arg.value = expect_u64(*value, field + ".value");
  if (const json* two = member(v, "valueTwo")) arg.value_two = expect_u64(*two, field + ".valueTwo");
  const json* op = member(v, "op");
  if (!op) fail(field + ".op", "missing");
  arg.op = parse_op(*op, field + ".op");
  return arg;
}

SeccompRule parse_rule(const json& v, const std::string& field) {
  if (!v.is_object()) fail(field, "must be an object");
  SeccompRule rule;
  const json* names = member(v, "names");
  if (!names || !names->is_array() || names->empty()) fail(field + ".names", "must be a non-empty array");
  for (std::size_t i = 0; i < names->size(); ++i)
    rule.names.push_back(expect_string((*names)[i], field + ".names[" + std::to_string(i) + "]"));
  const json* action = member(v, "action");
  if (!action) fail(field + ".action", "missing");
  rule.action = parse_action(*action, field + ".action");
  if (const json* e = member(v, "errnoRet")) rule.errno_ret = expect_errno(*e, field + ".errnoRet");
  if (const json* args = member(v, "args")) {
    if (!args->is_array()) fail(field + ".args", "must be an array");
    for (std::size_t i = 0; i < args->size(); ++i)
      rule.args.push_back(parse_arg((*args)[i], field + ".args[" + std::to_string(i) + "]"));
  }
  return rule;
}

}  // namespace

bool SeccompProfile::uses_notify() const {
  if (default_action == SeccompAction::notify) return true;
  for (const auto& r : syscalls)
    if (r.action == SeccompAction::notify) return true;
  return false;
}

SeccompConfig parse_seccomp_config(const json& seccomp) { return {parse_seccomp(seccomp), seccomp.dump()}; }

std::optional<std::uint32_t> seccomp_arch_token(std::string_view name) {
  for (const auto& [n, t] : kSeccompArches)
    if (n == name) return t;
  return std::nullopt;
}

SeccompProfile parse_seccomp(const json& seccomp) {
  const std::string base(kField);
  if (!seccomp.is_object()) fail(base, "must be an object");
  SeccompProfile p;
  const json* def = member(seccomp, "defaultAction");
  if (!def) fail(base + ".defaultAction", "missing");
  p.default_action = parse_action(*def, base + ".defaultAction");
  if (const json* e = member(seccomp, "defaultErrnoRet"))
    p.default_errno_ret = expect_errno(*e, base + ".defaultErrnoRet");
  if (const json* arches = member(seccomp, "architectures")) {
    if (!arches->is_array()) fail(base + ".architectures", "must be an array");
    for (std::size_t i = 0; i < arches->size(); ++i) {
      std::string field = base + ".architectures[" + std::to_string(i) + "]";
      std::string name = expect_string((*arches)[i], field);
      auto token = seccomp_arch_token(name);
      if (!token) fail(field, "unknown architecture " + name);
      p.architectures.push_back(*token);
    }
  }
  if (const json* flags = member(seccomp, "flags")) {
    if (!flags->is_array()) fail(base + ".flags", "must be an array");
    for (std::size_t i = 0; i < flags->size(); ++i)
      p.flags |= parse_flag((*flags)[i], base + ".flags[" + std::to_string(i) + "]");
  }
  if (const json* lp = member(seccomp, "listenerPath")) p.listener_path = expect_string(*lp, base + ".listenerPath");
  if (const json* lm = member(seccomp, "listenerMetadata"))
    p.listener_metadata = expect_string(*lm, base + ".listenerMetadata");
  if (const json* rules = member(seccomp, "syscalls")) {
    if (!rules->is_array()) fail(base + ".syscalls", "must be an array");
    for (std::size_t i = 0; i < rules->size(); ++i)
      p.syscalls.push_back(parse_rule((*rules)[i], base + ".syscalls[" + std::to_string(i) + "]"));
  }
  if (p.uses_notify() && p.listener_path.empty())
    fail(base + ".listenerPath", "required when an action is SCMP_ACT_NOTIFY");
  return p;
}

namespace {
template <typename Table>
std::vector<std::string> seccomp_table_names(const Table& table) {
  std::vector<std::string> out;
  for (const auto& entry : table) out.emplace_back(entry.first);
  return out;
}
}  // namespace

std::vector<std::string> seccomp_action_names() { return seccomp_table_names(kSeccompActions); }
std::vector<std::string> seccomp_operator_names() { return seccomp_table_names(kSeccompOps); }
std::vector<std::string> seccomp_flag_names() { return seccomp_table_names(kSeccompFlags); }
std::vector<std::string> seccomp_arch_names() { return seccomp_table_names(kSeccompArches); }

std::vector<std::string> seccomp_kernel_flag_names() {
  std::vector<std::string> out;
  // A filter flag the kernel knows fails on the NULL program with EFAULT, an unknown one with
  // EINVAL: nothing is installed either way.
  for (const auto& [name, flag] : kSeccompFlags)
    if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flag, nullptr) != 0 && errno == EFAULT) out.emplace_back(name);
  return out;
}

}  // namespace kiln::runtime
