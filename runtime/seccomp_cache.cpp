#include "runtime/seccomp_cache.hpp"

#include <fcntl.h>
#include <seccomp.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <mutex>
#include <optional>

#include "common/error.hpp"
#include "common/files.hpp"
#include "common/hex.hpp"
#include "common/unique_fd.hpp"
#include "runtime/seccomp_sha256.hpp"

namespace kiln::runtime {
namespace {

using Digest = Sha256Digest;

constexpr std::array<char, 8> kMagic{'K', 'I', 'L', 'N', 'B', 'P', 'F', '\0'};
constexpr std::uint32_t kFormatVersion = 1;
constexpr std::size_t kMaxInsns = 4096;  // BPF_MAXINSNS: the kernel refuses longer programs

struct Header {
  std::array<char, 8> magic;
  std::uint32_t version;
  std::uint32_t flags;
  std::uint32_t needs_listener;
  std::uint32_t count;
  Digest key;
  Digest body;
};
static_assert(sizeof(Header) == 88, "the cache header is an on-disk format");

Digest cache_key(const SeccompConfig& seccomp) {
  const scmp_version* v = seccomp_version();
  std::string material = seccomp.canonical;
  material += '\0';
  material +=
      "libseccomp=" + std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->micro);
  material += ";api=" + std::to_string(seccomp_api_get());
  material += ";arch=" + std::to_string(seccomp_arch_native());
  material += ";format=" + std::to_string(kFormatVersion);
  return sha256(material.data(), material.size());
}

std::string hex(const Digest& d) { return lower_hex(d.data(), d.size()); }

// program: a valid entry; present without program: an entry that must be rewritten.
struct ReadResult {
  std::optional<SeccompProgram> program;
  bool present = false;
};

ReadResult read_entry(const std::string& path, const Digest& key) {
  ReadResult r;
  int raw = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (raw < 0) {
    if (errno != ENOENT) spdlog::debug("seccomp cache: open {}: {}", path, std::strerror(errno));
    r.present = errno != ENOENT;
    return r;
  }
  UniqueFd fd(raw);
  r.present = true;
  struct stat st;
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return r;
  auto size = static_cast<std::size_t>(st.st_size);
  if (size < sizeof(Header) || size > sizeof(Header) + kMaxInsns * sizeof(sock_filter) ||
      (size - sizeof(Header)) % sizeof(sock_filter) != 0) {
    spdlog::debug("seccomp cache: {} has bad length {}", path, size);
    return r;
  }
  std::string data;
  try {
    data = read_fd(fd.get());
  } catch (const Error& e) {
    spdlog::debug("seccomp cache: read {}: {}", path, e.what());
    return r;
  }
  if (data.size() != size) return r;
  Header h;
  std::memcpy(&h, data.data(), sizeof h);
  std::size_t count = (size - sizeof(Header)) / sizeof(sock_filter);
  if (h.magic != kMagic || h.version != kFormatVersion || h.count != count || count == 0 || h.key != key ||
      h.needs_listener > 1) {
    spdlog::debug("seccomp cache: {} has a bad header", path);
    return r;
  }
  const char* body = data.data() + sizeof(Header);
  if (sha256(body, count * sizeof(sock_filter)) != h.body) {
    spdlog::debug("seccomp cache: {} fails its checksum", path);
    return r;
  }
  SeccompProgram p;
  p.insns.resize(count);
  std::memcpy(p.insns.data(), body, count * sizeof(sock_filter));
  p.flags = h.flags;
  p.needs_listener = h.needs_listener != 0;
  r.program = std::move(p);
  return r;
}

void write_entry(const std::string& path, const Digest& key, const SeccompProgram& p) {
  Header h{};
  h.magic = kMagic;
  h.version = kFormatVersion;
  h.flags = p.flags;
  h.needs_listener = p.needs_listener ? 1 : 0;
  h.count = static_cast<std::uint32_t>(p.insns.size());
  h.key = key;
  std::size_t body_size = p.insns.size() * sizeof(sock_filter);
  h.body = sha256(p.insns.data(), body_size);
  std::string data(sizeof h + body_size, '\0');
  std::memcpy(data.data(), &h, sizeof h);
  std::memcpy(data.data() + sizeof h, p.insns.data(), body_size);
  write_file_atomic(path, data, 0600);
}

// The cache is trusted input for the kernel: use it only if the directory is ours and private.
bool directory_is_private(const std::string& dir) {
  int raw = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (raw < 0) return false;
  UniqueFd fd(raw);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return false;
  return st.st_uid == ::geteuid() && (st.st_mode & 022) == 0;
}

}  // namespace

SeccompCache::SeccompCache(std::string dir) : dir_(std::move(dir)) {
  if (dir_.empty()) return;
  try {
    if (!path_exists(dir_)) mkdir_p(dir_, 0700);
    usable_ = directory_is_private(dir_);
    if (!usable_) spdlog::debug("seccomp cache: {} is not a private directory of ours; not caching", dir_);
  } catch (const Error& e) {
    spdlog::debug("seccomp cache: {}; not caching", e.what());
  }
}

std::string SeccompCache::entry_path(const nlohmann::json& seccomp) const {
  return entry_path(parse_seccomp_config(seccomp));
}

std::string SeccompCache::entry_path(const SeccompConfig& seccomp) const {
  return dir_ + "/" + hex(cache_key(seccomp)) + ".bpf";
}

SeccompProgram SeccompCache::prepare(const nlohmann::json& seccomp) { return prepare(parse_seccomp_config(seccomp)); }

SeccompProgram SeccompCache::prepare(const SeccompConfig& seccomp) {
  last_hit_ = false;
  if (!usable_) return compile_seccomp(seccomp.profile);
  Digest key = cache_key(seccomp);
  std::string path = dir_ + "/" + hex(key) + ".bpf";
  ReadResult cached = read_entry(path, key);
  if (cached.program) {
    ++stats_.hits;
    last_hit_ = true;
    spdlog::debug("seccomp cache: hit {}", path);
    return std::move(*cached.program);
  }
  ++stats_.misses;
  if (cached.present) ++stats_.corrupt;
  SeccompProgram program = compile_seccomp(seccomp.profile);
  try {
    write_entry(path, key, program);
    spdlog::debug("seccomp cache: stored {} ({} instructions)", path, program.insns.size());
  } catch (const Error& e) {
    spdlog::debug("seccomp cache: {}", e.what());
  }
  return program;
}

SeccompProgram prepare_seccomp(const SeccompConfig& seccomp, const std::string& cache_dir) {
  // One process may start many containers with one profile (kiln run --replicas, each of its
  // workers): after the first, the program comes from memory, without hashing the profile or
  // reading the cache file again. Keyed by the profile's canonical text.
  static std::mutex memo_lock;
  static std::optional<std::pair<std::string, SeccompProgram>> memo;
  {
    std::lock_guard<std::mutex> hold(memo_lock);
    if (memo && memo->first == seccomp.canonical) return memo->second;
  }
  SeccompProgram program = SeccompCache(cache_dir).prepare(seccomp);
  std::lock_guard<std::mutex> hold(memo_lock);
  memo.emplace(seccomp.canonical, program);
  return program;
}

SeccompProgram prepare_seccomp(const nlohmann::json& seccomp, const std::string& cache_dir) {
  return prepare_seccomp(parse_seccomp_config(seccomp), cache_dir);
}

}  // namespace kiln::runtime
