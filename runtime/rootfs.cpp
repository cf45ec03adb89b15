#include "runtime/rootfs.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <linux/magic.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "common/stage_clock.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "common/in_root.hpp"
#include "runtime/devices.hpp"
#include "runtime/host_rootfs_mount.hpp"
#include "runtime/mount_options.hpp"

namespace kiln::runtime {
namespace {

unsigned long propagation_flags(const std::string& name) { return parse_mount_options({name}).propagation; }

// Flags a bind remount must keep: in a user namespace the kernel refuses to clear locked ones.
unsigned long current_mount_flags(const char* path) {
  struct statvfs sv;
  if (::statvfs(path, &sv) != 0) return 0;
  unsigned long flags = 0;
  if (sv.f_flag & ST_NOSUID) flags |= MS_NOSUID;
  if (sv.f_flag & ST_NODEV) flags |= MS_NODEV;
  if (sv.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
  if (sv.f_flag & ST_NOATIME) flags |= MS_NOATIME;
  if (sv.f_flag & ST_NODIRATIME) flags |= MS_NODIRATIME;
  if (sv.f_flag & ST_RELATIME) flags |= MS_RELATIME;
  return flags;
}

bool on_kernel_fs(int fd) {
  struct statfs fs;
  return ::fstatfs(fd, &fs) == 0 && (fs.f_type == PROC_SUPER_MAGIC || fs.f_type == SYSFS_MAGIC);
}

bool under(const std::string& path, const char* dir) {
  size_t n = std::strlen(dir);
  return path.compare(0, n, dir) == 0 && (path.size() == n || path[n] == '/');
}

// The inode a masked or read-only path names, reached from "/" with no symlink anywhere on the
// way (after pivot_root "/" is the container's root). An empty fd: the path does not exist, and
// that is fine only where nothing exists to hide (a /proc or /sys entry this kernel lacks, or a
// path the image does not have); anything else, and every error, fails the start: a mask that
// is silently skipped is an open door (the core_pattern escape went through one).
UniqueFd open_protected_path(const std::string& path) {
  if (path.empty() || path[0] != '/') throw Error(path + ": must be an absolute path");
  std::vector<std::string> parts = path_components(path);
  for (const auto& p : parts)
    if (p == "..") throw Error(path + ": must not contain \"..\"");
  UniqueFd root = open_file("/", O_PATH | O_DIRECTORY);
  // Masked paths are often missing: that is not an exception (each would cost a throw).
  UniqueFd found;
  if (int err = try_open_in_root(root.get(), path, O_PATH | O_NOFOLLOW, 0, Symlinks::refuse, found); err != ENOENT) {
    if (err != 0) throw_in_root_error(root.get(), path, Symlinks::refuse, err);
    return found;
  }
  // Missing: find the deepest ancestor that exists (again with no symlinks on the way).
  while (!parts.empty()) {
    parts.pop_back();
    std::string ancestor = "/";
    for (const auto& p : parts) ancestor += (ancestor.size() > 1 ? "/" : "") + p;
    UniqueFd fd;
    int err = try_open_in_root(root.get(), ancestor, O_PATH | O_DIRECTORY, 0, Symlinks::refuse, fd);
    if (err == ENOENT) continue;
    if (err != 0) throw_in_root_error(root.get(), ancestor, Symlinks::refuse, err);
    if ((under(path, "/proc") || under(path, "/sys")) && !on_kernel_fs(fd.get()))
      throw Error(path + ": does not exist and " + ancestor + " is not procfs or sysfs", ENOENT);
    return UniqueFd();
  }
  return UniqueFd();
}

void mask_path(const std::string& path) {
  UniqueFd fd = open_protected_path(path);
  if (!fd) return;
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) throw_errno("stat " + path);
  std::string target = proc_fd_path(fd.get());
  if (S_ISLNK(st.st_mode)) throw Error("mask " + path + ": is a symlink, refused", ELOOP);
  if (S_ISDIR(st.st_mode)) {
    if (::mount("tmpfs", target.c_str(), "tmpfs", MS_RDONLY, nullptr) != 0) throw_errno("mask " + path + " with tmpfs");
  } else {
    if (::mount("/dev/null", target.c_str(), nullptr, MS_BIND, nullptr) != 0)
      throw_errno("mask " + path + " with /dev/null");
  }
}

void make_readonly(const std::string& path) {
  UniqueFd fd = open_protected_path(path);
  if (!fd) return;
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) throw_errno("stat " + path);
  if (S_ISLNK(st.st_mode)) throw Error("make " + path + " read-only: is a symlink, refused", ELOOP);
  std::string target = proc_fd_path(fd.get());
  if (::mount(target.c_str(), target.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) throw_errno("bind " + path);
  UniqueFd again = open_protected_path(path);
  if (!again) throw Error("make " + path + " read-only: vanished", ENOENT);
  std::string t2 = proc_fd_path(again.get());
  unsigned long flags =
      MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | current_mount_flags(t2.c_str());
  if (::mount(nullptr, t2.c_str(), nullptr, flags, nullptr) != 0) throw_errno("remount " + path + " read-only");
}

}  // namespace

UniqueFd prepare_rootfs(const Spec& spec, const MountPlan& plan, bool in_user_namespace, ChildStageStamps* stamps) {
  const bool own_mount_namespace = spec.linux.has_namespace("mount");
  // Nothing we mount may propagate back to the host unless the spec asks for it. By default
  // "/" turns rslave: host mounts stay visible, ours stay ours. A rootfsPropagation that keeps
  // host propagation (shared, slave) is used in its place, as runc does: with rshared (what the
  // CRI sets for a Bidirectional volume) a volume's bind then joins the host's own peer group,
  // so mounts travel both ways. It is applied to the new root again after pivot_root. Without a
  // mount namespace "/" is the host's own: left alone (runc makes the host's "/" rslave).
  const unsigned long requested =
      spec.linux.rootfs_propagation.empty() ? 0 : propagation_flags(spec.linux.rootfs_propagation);
  const bool keep_host_propagation = (requested & (MS_SHARED | MS_SLAVE)) != 0;
  const unsigned long initial = keep_host_propagation ? requested : MS_SLAVE | MS_REC;
  if (own_mount_namespace && ::mount(nullptr, "/", nullptr, initial, nullptr) != 0)
    throw_errno("make / " + (keep_host_propagation ? spec.linux.rootfs_propagation : std::string("rslave")));
  if (own_mount_namespace && keep_host_propagation) {
    // The rootfs bind below must not show up on the host through a shared parent, and
    // pivot_root refuses a new root whose parent mount is shared.
    ContainingMount parent = containing_mount(with_context("rootfs", [&] { return resolved_path(spec.root_path); }));
    if (parent.shared && ::mount(nullptr, parent.point.c_str(), nullptr, MS_PRIVATE, nullptr) != 0)
      throw_errno("make the mount holding the rootfs (" + parent.point + ") private");
  }
  // pivot_root needs the new root to be a mount point; without a mount namespace, the bind is
  // what a read-only root remounts (not the host's "/") and what delete detaches.
  if (::mount(spec.root_path.c_str(), spec.root_path.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
    throw_errno("bind rootfs " + spec.root_path);
  // In the host's mount table: the mounts made under the bind stay off the host's peers.
  if (!own_mount_namespace && ::mount(nullptr, spec.root_path.c_str(), nullptr, MS_PRIVATE | MS_REC, nullptr) != 0)
    throw_errno("make rootfs " + spec.root_path + " private");
  UniqueFd rootfs = open_file(spec.root_path, O_PATH | O_DIRECTORY);
  apply_mount_plan(plan, rootfs.get(), stamps);
  if (stamps) stamps->stamp("init:devices");
  create_devices(spec, rootfs.get(), in_user_namespace);
  return rootfs;
}

void enter_rootfs(const Spec& spec, int rootfs_fd, bool no_pivot) {
  if (::fchdir(rootfs_fd) != 0) throw_errno("chdir to rootfs " + spec.root_path);
  if (!spec.linux.has_namespace("mount")) {
    // pivot_root here would move the host's own root: chroot, as runc does.
    if (::chroot(".") != 0) throw_errno("chroot " + spec.root_path);
  } else if (no_pivot) {
    if (::mount(".", "/", nullptr, MS_MOVE, nullptr) != 0) throw_errno("move rootfs to /");
    if (::chroot(".") != 0) throw_errno("chroot " + spec.root_path);
  } else {
    // pivot_root(".", ".") stacks the old root on top of the new one; detach it from there.
    // Where the cwd points after pivot_root is not promised: step onto the old root through an
    // fd taken before, so that the rslave below reaches it and not the new root's mounts (which
    // would turn a Bidirectional volume into a slave of the host).
    UniqueFd old_root = open_file("/", O_PATH | O_DIRECTORY);
    if (::syscall(SYS_pivot_root, ".", ".") != 0) throw_errno("pivot_root " + spec.root_path);
    if (::fchdir(old_root.get()) != 0) throw_errno("chdir to the old root");
    if (::mount(nullptr, ".", nullptr, MS_SLAVE | MS_REC, nullptr) != 0) throw_errno("make old root rslave");
    if (::umount2(".", MNT_DETACH) != 0) throw_errno("unmount old root");
  }
  if (::chdir("/") != 0) throw_errno("chdir /");
}

void finish_rootfs(const Spec& spec) {
  for (const auto& p : spec.linux.masked_paths) with_context("linux.maskedPaths", [&] { mask_path(p); });
  for (const auto& p : spec.linux.readonly_paths) with_context("linux.readonlyPaths", [&] { make_readonly(p); });
  if (spec.root_readonly) {
    unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY | current_mount_flags("/");
    if (::mount(nullptr, "/", nullptr, flags, nullptr) != 0) throw_errno("remount root read-only");
  }
  if (!spec.linux.rootfs_propagation.empty()) {
    if (::mount(nullptr, "/", nullptr, propagation_flags(spec.linux.rootfs_propagation), nullptr) != 0)
      throw_errno("set rootfs propagation " + spec.linux.rootfs_propagation);
  }
}

}  // namespace kiln::runtime
