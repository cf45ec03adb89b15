// Resources: the OCI runtime-spec linux.resources object, typed. Every value is optional so
// that "absent" (leave the kernel's value alone) differs from any value; `kiln-runtime update`
// applies a Resources where only the changed fields are set.
// Units are the spec's (v1 flavoured: shares, memsw-style swap); managers convert for v2.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace kiln::cgroups {

struct MemoryResources {
  std::optional<int64_t> limit;        // bytes; -1 = unlimited
  std::optional<int64_t> reservation;  // soft limit (v1) / memory.low (v2)
  std::optional<int64_t> swap;         // memory+swap limit (v1 memsw semantics); -1 = unlimited
  std::optional<int64_t> kernel;       // deprecated kernel memory limit (v1 only)
  std::optional<int64_t> kernel_tcp;   // v1 only
  std::optional<uint64_t> swappiness;  // 0..100
  std::optional<bool> disable_oom_killer;
  std::optional<bool> use_hierarchy;
  std::optional<bool> check_before_update;  // refuse a limit below current usage
};

struct CpuResources {
  std::optional<uint64_t> shares;
  std::optional<int64_t> quota;   // microseconds per period; -1 / absent with period = "max"
  std::optional<uint64_t> burst;  // microseconds
  std::optional<uint64_t> period;
  std::optional<int64_t> realtime_runtime;
  std::optional<uint64_t> realtime_period;
  std::optional<std::string> cpus;  // "0-3,5"
  std::optional<std::string> mems;
  std::optional<int64_t> idle;  // 0 or 1 (SCHED_IDLE for the group)
};

struct PidsResources {
  std::optional<int64_t> limit;  // <= 0 = unlimited ("max"), as runc does for 0 in updates too
};

struct WeightDevice {
  int64_t major = 0;
  int64_t minor = 0;
  std::optional<uint16_t> weight;
  std::optional<uint16_t> leaf_weight;
};

struct ThrottleDevice {
  int64_t major = 0;
  int64_t minor = 0;
  uint64_t rate = 0;  // bytes or IOs per second
};

struct BlockIoResources {
  std::optional<uint16_t> weight;  // 10..1000 (v1 blkio); converted for v2 io.weight
  std::optional<uint16_t> leaf_weight;
  std::vector<WeightDevice> weight_device;
  std::vector<ThrottleDevice> throttle_read_bps_device;
  std::vector<ThrottleDevice> throttle_write_bps_device;
  std::vector<ThrottleDevice> throttle_read_iops_device;
  std::vector<ThrottleDevice> throttle_write_iops_device;

  bool empty() const {
    return !weight && !leaf_weight && weight_device.empty() && throttle_read_bps_device.empty() &&
           throttle_write_bps_device.empty() && throttle_read_iops_device.empty() && throttle_write_iops_device.empty();
  }
};

struct HugepageLimit {
  std::string page_size;  // "2MB", "1GB", "64KB" as in hugetlb.<size>.limit_in_bytes
  uint64_t limit = 0;     // bytes
};

struct NetworkPriority {
  std::string name;  // interface
  uint32_t priority = 0;
};

struct NetworkResources {
  std::optional<uint32_t> class_id;
  std::vector<NetworkPriority> priorities;
};

// One linux.resources.devices entry. major/minor absent = wildcard ("*").
struct DeviceRule {
  bool allow = false;
  char type = 'a';  // 'a' (all), 'c', 'b'
  std::optional<int64_t> major;
  std::optional<int64_t> minor;
  std::string access = "rwm";  // subset of "rwm"
};

struct RdmaLimit {
  std::optional<uint32_t> hca_handles;
  std::optional<uint32_t> hca_objects;
};

struct Resources {
  MemoryResources memory;
  CpuResources cpu;
  PidsResources pids;
  BlockIoResources block_io;
  std::vector<HugepageLimit> hugepage_limits;
  NetworkResources network;
  std::vector<DeviceRule> devices;
  std::map<std::string, RdmaLimit> rdma;       // device name -> limits
  std::map<std::string, std::string> unified;  // v2 file name -> value, written verbatim
  // Set when the spec carried a "devices" list at all (an empty list still means "deny all
  // but the defaults").
  bool has_devices = false;
};

// Parses the linux.resources object (a JSON object; null = no resources). Throws kiln::Error
// naming the field, e.g. "linux.resources.memory.limit: must be an integer".
Resources parse_resources(const nlohmann::json& linux_resources);

// The devices every container gets on top of linux.resources.devices (the same set runc
// allows): mknod of any char/block device, and /dev/null, zero, full, random, urandom, tty,
// console, ptmx, net/tun and the pts devices.
const std::vector<DeviceRule>& default_device_rules();

// "c 1:3 rwm", "a *:* rwm": the v1 devices.allow/deny line for a rule.
std::string device_rule_line(const DeviceRule& rule);
// The rdma.max line of one device, the same on both hierarchies: "mlx4_0 hca_handle=2 hca_object=max".
std::string rdma_max_line(const std::string& device, const RdmaLimit& limit);

// A unified key is a file name in the container's own cgroup: no '/', not "." / "..", not empty.
void validate_unified_key(const std::string& key);

// v1 cpu.shares (2..262144) -> v2 cpu.weight (1..10000), the mapping runc and crun use.
uint64_t shares_to_weight(uint64_t shares);
// v1 blkio.weight (10..1000) -> v2 io.weight (1..10000).
uint64_t blkio_weight_to_io_weight(uint64_t weight);
// The spec's memory.swap is memory+swap (v1 memsw); v2 memory.swap.max is swap alone.
// Returns the memory.swap.max value ("max" or a number), or nullopt when nothing is to be
// written. Throws when swap < limit (not representable).
std::optional<std::string> swap_v2_value(std::optional<int64_t> limit, std::optional<int64_t> swap);

}  // namespace kiln::cgroups
