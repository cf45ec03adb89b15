// Device access on cgroup v2: there is no devices.allow file; instead a
// BPF_PROG_TYPE_CGROUP_DEVICE program attached to the cgroup returns 1 (allow) or 0 (deny) for
// every open/mknod of a device node. We emit that program directly as instructions (no
// compiler, no libbpf): the rules become a chain of compares, checked last rule first, so the
// last matching rule decides, as with v1's devices.allow/deny sequence. No match denies.
#pragma once
#include <linux/bpf.h>

#include <string>
#include <vector>

#include "cgroups/resources.hpp"

namespace kiln::cgroups {

// The program for rules (callers append default_device_rules()).
// Context registers: r1 = struct bpf_cgroup_dev_ctx*; the program reads access_type, major and
// minor into r2..r6 once, then each rule is a block that falls through to the next on mismatch.
std::vector<bpf_insn> device_program(const std::vector<DeviceRule>& rules);

// Loads prog and attaches it to the cgroup directory cgroup_fd (BPF_CGROUP_DEVICE, multi),
// then detaches the programs that were attached there before (an update replaces, since the
// kernel ANDs all attached programs). cgroup_path is for error messages.
void attach_device_program(int cgroup_fd, const std::vector<bpf_insn>& prog, const std::string& cgroup_path);

}  // namespace kiln::cgroups
