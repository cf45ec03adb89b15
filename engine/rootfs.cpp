#include "engine/rootfs.hpp"

#include <spdlog/spdlog.h>
#include <sys/mount.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/error.hpp"
#include "common/files.hpp"
#include "common/user_namespace.hpp"
#include "engine/fuse_overlay.hpp"
#include "image/whiteout.hpp"

namespace kiln::engine {

std::string RootfsPlan::overlay_options() const {
  std::string o = "lowerdir=";
  for (size_t i = 0; i < lower_dirs.size(); ++i) {
    // ':' separates lowerdirs and ',' separates options: such a path cannot be passed.
    if (lower_dirs[i].find_first_of(":,") != std::string::npos)
      throw Error("layer path " + lower_dirs[i] + " contains ':' or ',', which overlayfs options cannot carry");
    o += (i ? ":" : "") + lower_dirs[i];
  }
  if (!upper_dir.empty()) o += ",upperdir=" + upper_dir + ",workdir=" + work_dir;
  // In a user namespace (rootless) overlayfs keeps its whiteout xattrs under user.overlay.*.
  if (!in_initial_user_namespace()) o += ",userxattr";
  return o;
}

namespace {

// `.wh..wh..opq` at a layer's root: OCI says the layers below it are hidden, but overlayfs
// ignores the opaque mark on a lower dir's root, so they are left out of the mount instead.
bool layer_root_is_opaque(const std::string& dir) {
  char v[2] = {};
  return ::lgetxattr(dir.c_str(), image::overlay_opaque_xattr(), v, sizeof v) == 1 && v[0] == 'y';
}

}  // namespace

RootfsPlan plan_rootfs(const std::vector<std::string>& layers, const std::string& init_dir,
                       const std::string& container_dir, bool read_only, const std::string& empty_dir) {
  RootfsPlan p;
  p.lower_dirs.push_back(init_dir);
  for (auto it = layers.rbegin(); it != layers.rend(); ++it) {
    p.lower_dirs.push_back(*it);
    if (layer_root_is_opaque(*it)) break;
  }
  // With the init layer there are always two lower dirs, which overlayfs needs without an upper.
  if (layers.empty()) p.lower_dirs.push_back(empty_dir);
  if (!read_only) {
    p.upper_dir = container_dir + "/upper";
    p.work_dir = container_dir + "/work";
  }
  p.target = container_dir + "/merged";
  return p;
}

RootfsPlan plan_rootfs(const image::Store& store, const image::Image& image, const std::string& container_dir,
                       bool read_only) {
  return plan_rootfs(store.layer_dirs(image), init_layer(store.root()), container_dir, read_only,
                     container_dir + "/empty");
}

std::string init_layer(const std::string& store_root) {
  std::string dir = store_root + "/containers/.init";
  // run/secrets: the mount point of the secrets tmpfs; etc/*: of the files in etc_files.hpp.
  auto add_mount_points = [](const std::string& d) {
    for (const char* sub : {"proc", "sys", "dev", "etc", "run/secrets"}) mkdir_p(d + "/" + sub, 0755);
    for (const char* file : {"etc/hostname", "etc/hosts", "etc/resolv.conf"})
      if (!path_exists(d + "/" + file)) write_file(d + "/" + file, "", 0644);
  };
  if (path_exists(dir + "/etc/resolv.conf")) return dir;
  if (path_exists(dir + "/proc")) {
    add_mount_points(dir);  // a store made by an older kiln: add what is missing in place
    return dir;
  }
  std::string tmp = dir + ".tmp-" + std::to_string(::getpid());
  remove_tree(tmp);
  add_mount_points(tmp);
  if (::rename(tmp.c_str(), dir.c_str()) != 0) remove_tree(tmp);  // another run made it first
  return dir;
}

void mount_rootfs(const RootfsPlan& plan) {
  mkdir_p(plan.target, 0755);
  std::string options = plan.overlay_options();
  // volatile: no syncfs of the upper dir's filesystem (here the whole root ext4, with whatever
  // else is dirty on it) at unmount, which made a container's end take 0.6-30 ms. Safe for
  // kiln: a container never outlives a reboot (its state is in /run) and its upper dir is never
  // mounted again. Kernels before 5.10 do not know the option: mount without it.
  if (!plan.upper_dir.empty()) {
    std::string fast = options + ",volatile";
    spdlog::debug("mount overlay on {}: {}", plan.target, fast);
    if (::mount("overlay", plan.target.c_str(), "overlay", MS_NODEV, fast.c_str()) == 0) return;
    if (errno != EINVAL) throw_errno("mount rootfs overlay on " + plan.target);
  }
  spdlog::debug("mount overlay on {}: {}", plan.target, options);
  if (::mount("overlay", plan.target.c_str(), "overlay", MS_NODEV, options.c_str()) == 0) return;
  const int err = errno;
  // The options are ours and checked: EINVAL is the kernel refusing overlay for these dirs (an
  // upper dir on a filesystem it cannot use), EPERM/ENODEV no overlay for this user or kernel.
  if (err != EINVAL && err != EPERM && err != ENODEV) throw_errno("mount rootfs overlay on " + plan.target, err);
  mount_fuse_overlay(plan, std::strerror(err));
  spdlog::warn("rootfs {}: the kernel refused overlayfs for this store ({}): using fuse-overlayfs", plan.target,
               std::strerror(err));
}

std::string kernel_overlay_refusal(const std::string& dir) {
  mkdir_p(dir, 0700);
  std::string probe = dir + "/.overlay-probe-" + std::to_string(::getpid());
  for (const char* sub : {"/lower", "/upper", "/work", "/merged"}) mkdir_p(probe + sub, 0700);
  RootfsPlan plan{{probe + "/lower"}, probe + "/upper", probe + "/work", probe + "/merged"};
  std::string refusal;
  if (::mount("overlay", plan.target.c_str(), "overlay", MS_NODEV, plan.overlay_options().c_str()) == 0)
    ::umount2(plan.target.c_str(), MNT_DETACH);
  else refusal = std::strerror(errno);
  remove_tree(probe);
  return refusal;
}

void unmount_rootfs(const std::string& target) {
  if (::umount2(target.c_str(), UMOUNT_NOFOLLOW) == 0) return;
  if (errno == EBUSY && ::umount2(target.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) == 0) return;
  if (errno != EINVAL && errno != ENOENT) spdlog::warn("unmount rootfs {}: {}", target, std::strerror(errno));
}

}  // namespace kiln::engine
