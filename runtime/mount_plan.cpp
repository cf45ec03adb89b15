#include "runtime/mount_plan.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/mount.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "common/error.hpp"
#include "common/failpoint.hpp"
#include "common/stage_clock.hpp"
#include "common/in_root.hpp"
#include "runtime/mount_options.hpp"

namespace kiln::runtime {
namespace {

constexpr unsigned long kBindAttrs =
    MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME;

void plan_cgroup_mount(const Spec& spec, const Mount& m, const MountOptions& opts,
                       const std::map<std::string, std::string>& cgroup_paths, const std::string& cgroup_root,
                       MountPlan& plan) {
  bool v2_only = cgroup_paths.size() == 1 && cgroup_paths.begin()->first == "unified";
  unsigned long attrs = (opts.flags & kBindAttrs) | MS_NOSUID | MS_NODEV | MS_NOEXEC;
  if (v2_only) {
    if (spec.linux.has_namespace("cgroup")) {
      plan.push_back({"cgroup2", m.destination, "cgroup2", attrs, 0, opts.propagation, "", false, false});
    } else {
      plan.push_back({cgroup_paths.begin()->second, m.destination, "", MS_BIND | MS_REC, attrs, opts.propagation, "",
                      true, false});
    }
    return;
  }
  // v1 / hybrid: a tmpfs holding one bind per hierarchy, each showing only the container's cgroup.
  plan.push_back(
      {"tmpfs", m.destination, "tmpfs", (attrs & ~MS_RDONLY), 0, opts.propagation, "mode=755", false, false});
  for (const auto& [name, host_path] : cgroup_paths) {
    std::string rest = host_path.substr(cgroup_root.size() + 1);
    std::string hierarchy = rest.substr(0, rest.find('/'));
    plan.push_back({host_path, m.destination + "/" + hierarchy, "", MS_BIND | MS_REC, attrs, 0, "", true, false});
  }
  if (attrs & MS_RDONLY) {
    MountStep ro{"", m.destination, "", MS_REMOUNT | MS_BIND, 0, 0, "", false, false};
    ro.remount_flags = attrs;
    plan.push_back(ro);
  }
}

Symlinks symlink_policy(const MountStep& step) { return step.kernel_fs() ? Symlinks::refuse : Symlinks::follow; }

// After the whole plan: procfs and sysfs are where the spec said, as themselves, not covered or
// displaced by a later mount (an image's symlinks can move a path under a mount made later).
void verify_kernel_mount(int rootfs_fd, const MountStep& step) {
  long magic = step.fstype == "proc" ? PROC_SUPER_MAGIC : step.fstype == "sysfs" ? SYSFS_MAGIC : 0;
  if (!magic) return;
  UniqueFd fd = open_in_root(rootfs_fd, step.destination, O_PATH | O_DIRECTORY, 0, Symlinks::refuse);
  struct statfs fs;
  if (::fstatfs(fd.get(), &fs) != 0) throw_errno("statfs " + step.destination);
  if (fs.f_type != magic) throw Error(step.destination + " is not " + step.fstype + " after mounting it", EXDEV);
  struct statx sx {};
  if (::statx(fd.get(), "", AT_EMPTY_PATH, STATX_BASIC_STATS, &sx) == 0 &&
      (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) && !(sx.stx_attributes & STATX_ATTR_MOUNT_ROOT))
    throw Error(step.destination + " is not the root of the " + step.fstype + " mount", EXDEV);
}

// The inode to mount on: a directory, or for a bind of a non-directory, a file.
UniqueFd mount_target(int rootfs_fd, const MountStep& step) {
  bool file_target = false;
  if (step.bind) {
    struct stat st;
    if (::stat(step.source.c_str(), &st) != 0) throw_errno("stat bind source " + step.source);
    file_target = !S_ISDIR(st.st_mode);
  }
  if (!file_target) return mkdir_all_in_root(rootfs_fd, step.destination, 0755, symlink_policy(step));
  auto [parent, name] = open_parent_in_root(rootfs_fd, step.destination, true);
  struct stat existing;
  if (::fstatat(parent.get(), name.c_str(), &existing, AT_SYMLINK_NOFOLLOW) != 0) {
    // Missing: create it. (Opening an existing one for writing would fail on a read-only root.)
    UniqueFd fd(::openat(parent.get(), name.c_str(), O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (!fd && errno != EEXIST) throw_errno("create mount point " + step.destination);
  }
  return open_in_root(rootfs_fd, step.destination, O_PATH);
}

}  // namespace

bool MountStep::kernel_fs() const {
  static const char* const types[] = {"proc",    "sysfs",   "devpts", "mqueue",   "cgroup",  "cgroup2",    "securityfs",
                                      "debugfs", "tracefs", "bpf",    "configfs", "fusectl", "binfmt_misc"};
  for (const char* t : types)
    if (fstype == t) return true;
  return false;
}

std::string MountStep::describe() const {
  return (bind ? "bind " + source : fstype.empty() ? "remount" : fstype) + " on " + destination;
}

MountPlan plan_mounts(const Spec& spec, const std::map<std::string, std::string>& cgroup_paths,
                      const std::string& cgroup_root) {
  MountPlan plan;
  for (const Mount& m : spec.mounts) {
    MountOptions opts = parse_mount_options(m.options);
    if (m.type == "cgroup" || m.type == "cgroup2") {
      if (!cgroup_paths.empty()) {
        plan_cgroup_mount(spec, m, opts, cgroup_paths, cgroup_root, plan);
      } else {
        // No cgroup of its own (an unprivileged caller without delegation): an empty
        // read-only directory, rather than the host's tree or a mount the kernel refuses.
        plan.push_back({"tmpfs", m.destination, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, 0,
                        opts.propagation, "mode=755", false, false});
      }
      continue;
    }
    MountStep step;
    step.destination = m.destination;
    step.propagation = opts.propagation;
    step.data = opts.data;
    if (opts.bind() || m.type == "bind") {
      step.bind = true;
      step.source = m.source.empty() || m.source[0] == '/' ? m.source : spec.bundle + "/" + m.source;
      step.flags = MS_BIND | (opts.flags & MS_REC);
      step.remount_flags = opts.flags & kBindAttrs;
    } else {
      step.fstype = m.type;
      step.source = m.source.empty() ? m.type : m.source;
      step.flags = opts.flags;
      step.fallback_bind_sys = m.type == "sysfs";
    }
    plan.push_back(step);
  }
  return plan;
}

void apply_mount_plan(const MountPlan& plan, int rootfs_fd, ChildStageStamps* stamps) {
  for (const MountStep& step : plan) {
    if (stamps) stamps->stamp("init:mount ", step.destination);
    KILN_FAILPOINT("init-mid-mount-plan");
    spdlog::debug("mount: {}", step.describe());
    with_context("mount " + step.describe(), [&] {
      if (step.flags & MS_REMOUNT) {
        UniqueFd target = open_in_root(rootfs_fd, step.destination, O_PATH | O_DIRECTORY);
        if (::mount(nullptr, proc_fd_path(target.get()).c_str(), nullptr, MS_REMOUNT | MS_BIND | step.remount_flags,
                    nullptr) != 0)
          throw_errno("remount");
        return;
      }
      UniqueFd target = mount_target(rootfs_fd, step);
      std::string where = proc_fd_path(target.get());
      const char* data = step.data.empty() ? nullptr : step.data.c_str();
      int rc = ::mount(step.source.c_str(), where.c_str(), step.bind ? nullptr : step.fstype.c_str(), step.flags, data);
      if (rc != 0 && step.fallback_bind_sys && (errno == EPERM || errno == EBUSY))
        rc = ::mount("/sys", where.c_str(), nullptr, MS_BIND | MS_REC, nullptr);
      if (rc != 0) throw_errno(step.bind ? "bind" : "mount");
      if ((step.bind && step.remount_flags) || step.propagation) {
        // The old fd names the covered directory; reopen to reach the new mount.
        UniqueFd mounted = open_in_root(rootfs_fd, step.destination, O_PATH, 0, symlink_policy(step));
        std::string mpath = proc_fd_path(mounted.get());
        if (step.bind && step.remount_flags &&
            ::mount(nullptr, mpath.c_str(), nullptr, MS_REMOUNT | MS_BIND | step.remount_flags, nullptr) != 0)
          throw_errno("remount with options");
        if (step.propagation && ::mount(nullptr, mpath.c_str(), nullptr, step.propagation, nullptr) != 0)
          throw_errno("set propagation");
      }
    });
  }
  for (const MountStep& step : plan)
    with_context("check mount " + step.describe(), [&] { verify_kernel_mount(rootfs_fd, step); });
}

}  // namespace kiln::runtime
