// Device nodes in the container's /dev: the default set every container gets (null, zero,
// full, random, urandom, tty), linux.devices, and the /dev/fd, stdin/out/err and ptmx links.
#pragma once
#include <vector>

#include "runtime/spec.hpp"

namespace kiln::runtime {

const std::vector<Device>& default_devices();

// Creates the devices under rootfs_fd. In a user namespace mknod is not allowed, so the host's
// node is bind-mounted onto an empty file instead.
void create_devices(const Spec& spec, int rootfs_fd, bool in_user_namespace);

}  // namespace kiln::runtime
