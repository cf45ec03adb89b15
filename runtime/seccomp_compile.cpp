#include "runtime/seccomp_compile.hpp"

#include <linux/seccomp.h>
#include <seccomp.h>
#include <spdlog/spdlog.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <tuple>

#include "common/error.hpp"
#include "common/unique_fd.hpp"

namespace kiln::runtime {
namespace {

struct CtxRelease {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};
using Ctx = std::unique_ptr<void, CtxRelease>;

std::uint32_t to_scmp(SeccompAction action, std::uint32_t errno_ret) {
  switch (action) {
    case SeccompAction::kill_thread: return SCMP_ACT_KILL_THREAD;
    case SeccompAction::kill_process: return SCMP_ACT_KILL_PROCESS;
    case SeccompAction::trap: return SCMP_ACT_TRAP;
    case SeccompAction::errno_ret: return SCMP_ACT_ERRNO(errno_ret);
    case SeccompAction::trace: return SCMP_ACT_TRACE(errno_ret);
    case SeccompAction::allow: return SCMP_ACT_ALLOW;
    case SeccompAction::log: return SCMP_ACT_LOG;
    case SeccompAction::notify: return SCMP_ACT_NOTIFY;
  }
  return SCMP_ACT_KILL_PROCESS;
}

scmp_compare to_scmp(SeccompOp op) {
  switch (op) {
    case SeccompOp::ne: return SCMP_CMP_NE;
    case SeccompOp::lt: return SCMP_CMP_LT;
    case SeccompOp::le: return SCMP_CMP_LE;
    case SeccompOp::eq: return SCMP_CMP_EQ;
    case SeccompOp::ge: return SCMP_CMP_GE;
    case SeccompOp::gt: return SCMP_CMP_GT;
    case SeccompOp::masked_eq: return SCMP_CMP_MASKED_EQ;
  }
  return SCMP_CMP_EQ;
}

scmp_arg_cmp to_scmp(const SeccompArg& a) {
  scmp_arg_cmp c{};
  c.arg = a.index;
  c.op = to_scmp(a.op);
  c.datum_a = a.value;
  c.datum_b = a.value_two;
  return c;
}

// libseccomp ANDs the conditions of one rule but refuses two conditions on the same argument.
// A rule like that (e.g. "arg0 != 1" and "arg0 != 2") is split into one rule per condition,
// which ORs them; that is how other runtimes read such profiles too.
bool has_repeated_index(const std::vector<SeccompArg>& args) {
  unsigned int seen = 0;
  for (const auto& a : args) {
    if (seen & (1U << a.index)) return true;
    seen |= 1U << a.index;
  }
  return false;
}

// One (syscall, action, conditions) triple. libseccomp's compile time grows with the rules it
// is given, duplicates included (a profile naming one syscall 30,000 times took 3 s): every
// triple is added once, and a profile with more distinct rules than any real one is refused.
using RuleKey = std::tuple<int, std::uint32_t, std::vector<std::tuple<unsigned, int, std::uint64_t, std::uint64_t>>>;

RuleKey rule_key(int nr, std::uint32_t action, const std::vector<SeccompArg>& args) {
  RuleKey k{nr, action, {}};
  for (const auto& a : args) std::get<2>(k).emplace_back(a.index, static_cast<int>(a.op), a.value, a.value_two);
  return k;
}

void add_rule(scmp_filter_ctx ctx, const SeccompRule& rule, std::size_t i, std::set<RuleKey>& added) {
  std::uint32_t action = to_scmp(rule.action, rule.errno_ret);
  std::vector<scmp_arg_cmp> conds;
  for (const auto& a : rule.args) conds.push_back(to_scmp(a));
  bool split = has_repeated_index(rule.args);
  for (const auto& name : rule.names) {
    int nr = seccomp_syscall_resolve_name(name.c_str());
    if (nr == __NR_SCMP_ERROR) {
      spdlog::debug("seccomp: skipping unknown syscall {} (linux.seccomp.syscalls[{}])", name, i);
      continue;
    }
    if (!added.insert(rule_key(nr, action, rule.args)).second) continue;
    if (added.size() > kMaxSeccompRules)
      throw Error("linux.seccomp.syscalls: more than " + std::to_string(kMaxSeccompRules) +
                      " distinct rules (no real profile has that many), refused",
                  E2BIG);
    int rc = 0;
    if (split) {
      for (const auto& c : conds)
        if ((rc = seccomp_rule_add_array(ctx, action, nr, 1, &c)) != 0) break;
    } else {
      rc = seccomp_rule_add_array(ctx, action, nr, static_cast<unsigned int>(conds.size()),
                                  conds.empty() ? nullptr : conds.data());
    }
    if (rc != 0) throw_errno("linux.seccomp.syscalls[" + std::to_string(i) + "] " + name + ": add rule", -rc);
  }
}

std::vector<sock_filter> export_bpf(scmp_filter_ctx ctx) {
  // libseccomp 2.5 can only export to an fd (seccomp_export_bpf_mem is 2.6+): use a memfd.
  UniqueFd fd(::memfd_create("kiln-seccomp-bpf", MFD_CLOEXEC));
  if (!fd) throw_errno("seccomp: memfd_create");
  if (int rc = seccomp_export_bpf(ctx, fd.get()); rc != 0) throw_errno("seccomp: export bpf", -rc);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) throw_errno("seccomp: fstat memfd");
  auto size = static_cast<std::size_t>(st.st_size);
  if (size == 0 || size % sizeof(sock_filter) != 0)
    throw Error("seccomp: exported program has bad length " + std::to_string(size));
  std::vector<sock_filter> insns(size / sizeof(sock_filter));
  auto* out = reinterpret_cast<char*>(insns.data());
  std::size_t done = 0;
  while (done < size) {
    ssize_t n = ::pread(fd.get(), out + done, size - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno("seccomp: read exported program");
    if (n == 0) throw Error("seccomp: exported program truncated");
    done += static_cast<std::size_t>(n);
  }
  return insns;
}

}  // namespace

SeccompProgram compile_seccomp(const SeccompProfile& profile) {
  std::uint32_t def = to_scmp(profile.default_action, profile.default_errno_ret);
  Ctx ctx(seccomp_init(def));
  if (!ctx) throw Error("seccomp: init filter failed (libseccomp rejected the default action)");
  // The filter is exported, never loaded by libseccomp: no_new_privs is the launcher's business.
  if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_NNP, 0); rc != 0)
    throw_errno("seccomp: set attribute NNP", -rc);
  for (std::uint32_t arch : profile.architectures) {
    int rc = seccomp_arch_add(ctx.get(), arch);
    if (rc != 0 && rc != -EEXIST) throw_errno("linux.seccomp.architectures: add arch " + std::to_string(arch), -rc);
  }
  std::set<RuleKey> added;
  for (std::size_t i = 0; i < profile.syscalls.size(); ++i) {
    const SeccompRule& rule = profile.syscalls[i];
    // libseccomp refuses a rule whose action equals the default one; it would change nothing.
    if (to_scmp(rule.action, rule.errno_ret) == def) continue;
    add_rule(ctx.get(), rule, i, added);
  }
  SeccompProgram program;
  program.insns = export_bpf(ctx.get());
  program.flags = profile.flags;
  if (profile.uses_notify()) {
    program.needs_listener = true;
    program.flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
    // The kernel refuses TSYNC together with NEW_LISTENER unless told to report ESRCH instead.
    if (program.flags & SECCOMP_FILTER_FLAG_TSYNC) program.flags |= SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
  }
  return program;
}

}  // namespace kiln::runtime
