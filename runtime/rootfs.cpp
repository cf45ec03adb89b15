#include "runtime/rootfs.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/error.hpp"
#include "common/files.hpp"
#include "common/in_root.hpp"
#include "runtime/devices.hpp"
#include "runtime/mount_options.hpp"

namespace kiln::runtime {
namespace {

unsigned long propagation_flags(const std::string& name) {
  return parse_mount_options({name}).propagation;
}

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

void mask_path(const std::string& path) {
  int fd = ::open(path.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return;
    throw_errno("mask " + path);
  }
  UniqueFd owned(fd);
  struct stat st;
  if (::fstat(fd, &st) != 0) throw_errno("stat " + path);
  std::string target = proc_fd_path(fd);
  if (S_ISDIR(st.st_mode)) {
    if (::mount("tmpfs", target.c_str(), "tmpfs", MS_RDONLY, nullptr) != 0) throw_errno("mask " + path + " with tmpfs");
  } else if (!S_ISLNK(st.st_mode)) {
    if (::mount("/dev/null", target.c_str(), nullptr, MS_BIND, nullptr) != 0) throw_errno("mask " + path + " with /dev/null");
  }
}

void make_readonly(const std::string& path) {
  int fd = ::open(path.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return;
    throw_errno("make " + path + " read-only");
  }
  UniqueFd owned(fd);
  std::string target = proc_fd_path(fd);
  if (::mount(target.c_str(), target.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) throw_errno("bind " + path);
  UniqueFd again(::open(path.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  std::string t2 = proc_fd_path(again.get());
  unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | current_mount_flags(t2.c_str());
  if (::mount(nullptr, t2.c_str(), nullptr, flags, nullptr) != 0) throw_errno("remount " + path + " read-only");
}

}  // namespace

void apply_sysctl(const std::map<std::string, std::string>& sysctl) {
  for (const auto& [key, value] : sysctl) {
    if (key.empty() || key.find('/') != std::string::npos || key.find("..") != std::string::npos)
      throw Error("linux.sysctl: invalid key \"" + key + "\"");
    std::string path = "/proc/sys/" + key;
    for (size_t i = 10; i < path.size(); ++i)
      if (path[i] == '.') path[i] = '/';
    const std::string& text = value;  // clang 14 cannot capture structured bindings
    with_context("set sysctl " + key, [&] { write_file(path, text); });
  }
}

UniqueFd prepare_rootfs(const Spec& spec, const MountPlan& plan, bool in_user_namespace) {
  // Nothing we mount may propagate back to the host. rslave keeps host mounts visible (as
  // runc); a requested rootfsPropagation is applied to the new root after pivot_root.
  if (::mount(nullptr, "/", nullptr, MS_SLAVE | MS_REC, nullptr) != 0) throw_errno("make / rslave");
  // pivot_root needs the new root to be a mount point.
  if (::mount(spec.root_path.c_str(), spec.root_path.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
    throw_errno("bind rootfs " + spec.root_path);
  UniqueFd rootfs = open_file(spec.root_path, O_PATH | O_DIRECTORY);
  apply_mount_plan(plan, rootfs.get());
  create_devices(spec, rootfs.get(), in_user_namespace);
  return rootfs;
}

void enter_rootfs(const Spec& spec, int rootfs_fd, bool no_pivot) {
  if (::fchdir(rootfs_fd) != 0) throw_errno("chdir to rootfs " + spec.root_path);
  if (no_pivot) {
    if (::mount(".", "/", nullptr, MS_MOVE, nullptr) != 0) throw_errno("move rootfs to /");
    if (::chroot(".") != 0) throw_errno("chroot " + spec.root_path);
  } else {
    // pivot_root(".", ".") stacks the old root on top of the new one; detach it from there.
    if (::syscall(SYS_pivot_root, ".", ".") != 0) throw_errno("pivot_root " + spec.root_path);
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
