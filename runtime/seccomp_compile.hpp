// Compiling a parsed seccomp profile into a classic-BPF program with libseccomp, in the runtime
// (never in the container child). The result is plain data that the child loads with one
// seccomp(2) call (seccomp_load.hpp) and that seccomp_cache.hpp stores on disk.
#pragma once
#include <linux/filter.h>

#include <cstddef>
#include <vector>

#include "runtime/seccomp_profile.hpp"

namespace kiln::runtime {

struct SeccompProgram {
  std::vector<sock_filter> insns;
  unsigned int flags = 0;       // SECCOMP_FILTER_FLAG_* passed to seccomp(SECCOMP_SET_MODE_FILTER)
  bool needs_listener = false;  // NEW_LISTENER is in flags: loading returns a notify fd
};

// Distinct (syscall, action, conditions) rules a profile may add; duplicates count once.
// Docker's default profile has about 450; the kernel runs at most 4096 BPF instructions anyway.
inline constexpr std::size_t kMaxSeccompRules = 4096;

// Throws kiln::Error naming the rule ("linux.seccomp.syscalls[2] mkdir: add rule: ...").
// Syscall names unknown to libseccomp on every architecture are skipped (spdlog::debug).
SeccompProgram compile_seccomp(const SeccompProfile& profile);

}  // namespace kiln::runtime
