#include "engine/fuse_overlay.hpp"

#include <spdlog/spdlog.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "common/error.hpp"
#include "common/files.hpp"
#include "common/process.hpp"

namespace kiln::engine {
namespace {

constexpr long kFuseSuperMagic = 0x65735546;

// fuse-overlayfs's options: overlay's, without the kernel-only ones; allow_other so that the
// container's other users (not only the id that mounted it) may use their files.
std::string fuse_options(const RootfsPlan& plan) {
  std::string o = "lowerdir=";
  for (size_t i = 0; i < plan.lower_dirs.size(); ++i) o += (i ? ":" : "") + plan.lower_dirs[i];
  if (!plan.upper_dir.empty()) o += ",upperdir=" + plan.upper_dir + ",workdir=" + plan.work_dir;
  return o + ",allow_other";
}

std::string last_line(const std::string& text) {
  size_t end = text.find_last_not_of("\n ");
  if (end == std::string::npos) return "";
  size_t start = text.rfind('\n', end);
  return text.substr(start == std::string::npos ? 0 : start + 1,
                     end + 1 - (start == std::string::npos ? 0 : start + 1));
}

}  // namespace

std::optional<std::string> find_fuse_overlayfs() {
  for (const char* p : {"/usr/bin/fuse-overlayfs", "/usr/local/bin/fuse-overlayfs", "/bin/fuse-overlayfs"})
    if (::access(p, X_OK) == 0) return std::string(p);
  return std::nullopt;
}

void mount_fuse_overlay(const RootfsPlan& plan, const std::string& kernel_refusal) {
  const std::string what = "mount rootfs on " + plan.target + ": the kernel refused overlayfs (" + kernel_refusal + ")";
  auto program = find_fuse_overlayfs();
  if (!program) throw Error(what + " and fuse-overlayfs is not installed (Debian's fuse-overlayfs package)", ENOENT);
  plan.overlay_options();  // the same path checks (':' and ',') as the kernel's overlay
  std::vector<std::string> args = {*program, "-o", fuse_options(plan), plan.target};
  spdlog::debug("mount fuse-overlayfs on {}: {}", plan.target, args[2]);
  // It forks its daemon once the filesystem is mounted, then exits.
  DaemonStart started = start_daemon(args);
  if (started.ok && is_fuse_mount(plan.target)) return;
  std::string reason = last_line(started.output);
  throw Error(what + " and fuse-overlayfs failed: " + (reason.empty() ? "no reason given" : reason), EIO);
}

bool is_fuse_mount(const std::string& target) {
  struct statfs fs = {};
  return ::statfs(target.c_str(), &fs) == 0 && fs.f_type == kFuseSuperMagic;
}

}  // namespace kiln::engine
