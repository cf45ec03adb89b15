// An on-disk cache of compiled seccomp programs. Compiling a profile with libseccomp costs
// 8-18 ms per container start here; reading a cached program costs well under a millisecond.
//
// Key: SHA-256 (runtime/seccomp_sha256.hpp, not libcrypto: see there why) of the canonical linux.seccomp JSON
// (nlohmann's dump sorts object keys), the libseccomp version, the kernel API level libseccomp detected, the native
// architecture and this file format's version: anything that can change the generated BPF. Entry: <dir>/<hex key>.bpf =
// header (magic, format version, flags, listener bit, instruction count, the key, SHA-256 of the instructions) + the
// instructions. An entry that fails any check is ignored, recompiled and rewritten (tmp + rename, so readers never see
// half a file). The directory must be ours and not writable by group/others; otherwise the cache is bypassed, because
// whoever can write there decides which filter containers get.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "runtime/seccomp_compile.hpp"
#include "runtime/seccomp_profile.hpp"

namespace kiln::runtime {

struct SeccompCacheStats {
  unsigned int hits = 0;
  unsigned int misses = 0;   // compiled (no entry, or a bad one)
  unsigned int corrupt = 0;  // entries that failed validation and were rewritten
};

class SeccompCache {
 public:
  // dir is created 0700 when missing; an empty dir disables caching (always compiles).
  explicit SeccompCache(std::string dir);

  // Parses, compiles and stores linux.seccomp, or returns the stored program for it.
  // Parse and compile errors are thrown (kiln::Error naming the field); cache I/O problems are
  // only logged at debug level and never fail the start.
  SeccompProgram prepare(const SeccompConfig& seccomp);
  SeccompProgram prepare(const nlohmann::json& seccomp);  // parses it first

  bool last_was_hit() const { return last_hit_; }
  const SeccompCacheStats& stats() const { return stats_; }
  // The file an entry for this profile lives in (for tests and `kiln-runtime` debugging).
  std::string entry_path(const SeccompConfig& seccomp) const;
  std::string entry_path(const nlohmann::json& seccomp) const;

 private:
  std::string dir_;
  bool usable_ = false;
  bool last_hit_ = false;
  SeccompCacheStats stats_;
};

// One-shot form for the launcher: SeccompCache(cache_dir).prepare(seccomp).
SeccompProgram prepare_seccomp(const SeccompConfig& seccomp, const std::string& cache_dir);
SeccompProgram prepare_seccomp(const nlohmann::json& seccomp, const std::string& cache_dir);

}  // namespace kiln::runtime
