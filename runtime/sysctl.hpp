// linux.sysctl: only the keys the kernel keeps per namespace, and only when the container has
// that namespace of its own. Anything else would change the host (kernel.core_pattern from a
// config.json is a way out: the kernel runs that program as root on the host).
#pragma once
#include <map>
#include <string>

#include "runtime/spec.hpp"

namespace kiln::runtime {

// Throws kiln::Error naming the key when it is not namespaced, or not in a namespace the
// container owns (runc's rules: IPC keys need an ipc namespace, net.* a network namespace
// that is not the host's, kernel.hostname/domainname a uts namespace).
void validate_sysctl(const Linux& linux);

// Writes linux.sysctl through /proc/sys (which shows the writer's namespaces).
void apply_sysctl(const std::map<std::string, std::string>& sysctl);

}  // namespace kiln::runtime
