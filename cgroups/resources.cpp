#include "cgroups/resources.hpp"

#include <cctype>
#include <limits>
#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "common/json_fields.hpp"

namespace kiln::cgroups {

using json = nlohmann::json;
namespace {

using json_fields::array_member;
using json_fields::as_int;
using json_fields::as_uint;
using json_fields::member;
using json_fields::object_member;
using json_fields::opt_bool;
using json_fields::opt_int;
using json_fields::opt_string;
using json_fields::opt_uint;
[[noreturn]] void bad(const std::string& field, const std::string& why) { json_fields::bad_field(field, why); }

int64_t required_int(const json& obj, const char* key, const std::string& prefix) {
  auto v = opt_int(obj, key, prefix);
  if (!v) bad(prefix + "." + key, "missing");
  return *v;
}

void parse_memory(const json& m, MemoryResources& out) {
  const std::string p = "linux.resources.memory";
  out.limit = opt_int(m, "limit", p);
  out.reservation = opt_int(m, "reservation", p);
  out.swap = opt_int(m, "swap", p);
  out.kernel = opt_int(m, "kernel", p);
  out.kernel_tcp = opt_int(m, "kernelTCP", p);
  out.swappiness = opt_uint(m, "swappiness", p);
  // runc treats a swappiness above 100 as an error, except the historical "-1 as uint64" value.
  if (out.swappiness && *out.swappiness > 100) bad(p + ".swappiness", "must be between 0 and 100");
  out.disable_oom_killer = opt_bool(m, "disableOOMKiller", p);
  out.use_hierarchy = opt_bool(m, "useHierarchy", p);
  out.check_before_update = opt_bool(m, "checkBeforeUpdate", p);
  for (auto [value, name] : {std::pair{&out.limit, "limit"}, {&out.reservation, "reservation"}, {&out.swap, "swap"}}) {
    if (*value && **value < -1) bad(p + "." + name, "must be -1 (unlimited) or a number of bytes");
  }
}

void check_cpu_list(const std::optional<std::string>& list, const std::string& field) {
  if (!list) return;
  for (char c : *list) {
    if (!(std::isdigit(static_cast<unsigned char>(c)) || c == ',' || c == '-' || c == ' ' || c == '\n'))
      bad(field, "must be a list like \"0-3,5\"");
  }
}

void parse_cpu(const json& c, CpuResources& out) {
  const std::string p = "linux.resources.cpu";
  out.shares = opt_uint(c, "shares", p);
  out.quota = opt_int(c, "quota", p);
  out.burst = opt_uint(c, "burst", p);
  out.period = opt_uint(c, "period", p);
  out.realtime_runtime = opt_int(c, "realtimeRuntime", p);
  out.realtime_period = opt_uint(c, "realtimePeriod", p);
  out.cpus = opt_string(c, "cpus", p);
  out.mems = opt_string(c, "mems", p);
  out.idle = opt_int(c, "idle", p);
  check_cpu_list(out.cpus, p + ".cpus");
  check_cpu_list(out.mems, p + ".mems");
  if (out.idle && *out.idle != 0 && *out.idle != 1) bad(p + ".idle", "must be 0 or 1");
  if (out.quota && *out.quota < -1) bad(p + ".quota", "must be -1 (unlimited) or a number of microseconds");
}

std::vector<ThrottleDevice> parse_throttle(const json& io, const char* key) {
  const std::string field = std::string("linux.resources.blockIO.") + key;
  std::vector<ThrottleDevice> out;
  const json* list = array_member(io, key, "linux.resources.blockIO");
  if (!list) return out;
  for (size_t i = 0; i < list->size(); ++i) {
    const std::string p = field + "[" + std::to_string(i) + "]";
    const json& d = (*list)[i];
    if (!d.is_object()) bad(p, "must be an object");
    ThrottleDevice t;
    t.major = required_int(d, "major", p);
    t.minor = required_int(d, "minor", p);
    auto rate = opt_uint(d, "rate", p);
    if (!rate) bad(p + ".rate", "missing");
    t.rate = *rate;
    out.push_back(t);
  }
  return out;
}

void parse_block_io(const json& io, BlockIoResources& out) {
  const std::string p = "linux.resources.blockIO";
  if (auto w = opt_uint(io, "weight", p, 1000)) out.weight = static_cast<uint16_t>(*w);
  if (auto w = opt_uint(io, "leafWeight", p, 1000)) out.leaf_weight = static_cast<uint16_t>(*w);
  if (const json* list = array_member(io, "weightDevice", p)) {
    for (size_t i = 0; i < list->size(); ++i) {
      const std::string dp = p + ".weightDevice[" + std::to_string(i) + "]";
      const json& d = (*list)[i];
      if (!d.is_object()) bad(dp, "must be an object");
      WeightDevice wd;
      wd.major = required_int(d, "major", dp);
      wd.minor = required_int(d, "minor", dp);
      if (auto w = opt_uint(d, "weight", dp, 1000)) wd.weight = static_cast<uint16_t>(*w);
      if (auto w = opt_uint(d, "leafWeight", dp, 1000)) wd.leaf_weight = static_cast<uint16_t>(*w);
      out.weight_device.push_back(wd);
    }
  }
  out.throttle_read_bps_device = parse_throttle(io, "throttleReadBpsDevice");
  out.throttle_write_bps_device = parse_throttle(io, "throttleWriteBpsDevice");
  out.throttle_read_iops_device = parse_throttle(io, "throttleReadIOPSDevice");
  out.throttle_write_iops_device = parse_throttle(io, "throttleWriteIOPSDevice");
}

void validate_page_size(const std::string& size, const std::string& field) {
  // "2MB", "1GB", "64KB": digits then a unit; the kernel names its files this way.
  size_t digits = 0;
  while (digits < size.size() && std::isdigit(static_cast<unsigned char>(size[digits]))) ++digits;
  std::string unit = size.substr(digits);
  if (digits == 0 || (unit != "KB" && unit != "MB" && unit != "GB")) bad(field, "must be like \"2MB\" or \"1GB\"");
}

void parse_hugepages(const json& list, std::vector<HugepageLimit>& out) {
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string p = "linux.resources.hugepageLimits[" + std::to_string(i) + "]";
    const json& h = list[i];
    if (!h.is_object()) bad(p, "must be an object");
    HugepageLimit l;
    auto size = opt_string(h, "pageSize", p);
    if (!size) bad(p + ".pageSize", "missing");
    validate_page_size(*size, p + ".pageSize");
    l.page_size = *size;
    auto limit = opt_uint(h, "limit", p);
    if (!limit) bad(p + ".limit", "missing");
    l.limit = *limit;
    out.push_back(l);
  }
}

void parse_network(const json& n, NetworkResources& out) {
  const std::string p = "linux.resources.network";
  if (auto id = opt_uint(n, "classID", p, std::numeric_limits<uint32_t>::max()))
    out.class_id = static_cast<uint32_t>(*id);
  if (const json* list = array_member(n, "priorities", p)) {
    for (size_t i = 0; i < list->size(); ++i) {
      const std::string ip = p + ".priorities[" + std::to_string(i) + "]";
      const json& e = (*list)[i];
      if (!e.is_object()) bad(ip, "must be an object");
      NetworkPriority np;
      auto name = opt_string(e, "name", ip);
      if (!name || name->empty()) bad(ip + ".name", "missing");
      // Written as "NAME PRIO" into net_prio.ifpriomap: a space or newline would inject lines.
      if (name->find_first_of(" \n\t/") != std::string::npos) bad(ip + ".name", "is not an interface name");
      np.name = *name;
      np.priority =
          static_cast<uint32_t>(opt_uint(e, "priority", ip, std::numeric_limits<uint32_t>::max()).value_or(0));
      out.priorities.push_back(np);
    }
  }
}

void parse_devices(const json& list, std::vector<DeviceRule>& out) {
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string p = "linux.resources.devices[" + std::to_string(i) + "]";
    const json& d = list[i];
    if (!d.is_object()) bad(p, "must be an object");
    DeviceRule r;
    auto allow = opt_bool(d, "allow", p);
    if (!allow) bad(p + ".allow", "missing");
    r.allow = *allow;
    auto type = opt_string(d, "type", p).value_or("a");
    if (type != "a" && type != "c" && type != "b") bad(p + ".type", "must be \"a\", \"c\" or \"b\"");
    r.type = type[0];
    r.major = opt_int(d, "major", p);
    r.minor = opt_int(d, "minor", p);
    // -1 is the conventional spelling of a wildcard in some generators.
    if (r.major && *r.major == -1) r.major.reset();
    if (r.minor && *r.minor == -1) r.minor.reset();
    if (r.major && *r.major < 0) bad(p + ".major", "must be a device number");
    if (r.minor && *r.minor < 0) bad(p + ".minor", "must be a device number");
    auto access = opt_string(d, "access", p).value_or("rwm");
    if (access.empty()) access = "rwm";
    for (char c : access) {
      if (c != 'r' && c != 'w' && c != 'm') bad(p + ".access", "must be a combination of r, w and m");
    }
    r.access = access;
    out.push_back(r);
  }
}

void parse_rdma(const json& r, std::map<std::string, RdmaLimit>& out) {
  for (auto it = r.begin(); it != r.end(); ++it) {
    const std::string p = "linux.resources.rdma." + it.key();
    if (!it->is_object()) bad(p, "must be an object");
    RdmaLimit l;
    const uint64_t max = std::numeric_limits<uint32_t>::max();
    if (auto v = opt_uint(*it, "hcaHandles", p, max)) l.hca_handles = static_cast<uint32_t>(*v);
    if (auto v = opt_uint(*it, "hcaObjects", p, max)) l.hca_objects = static_cast<uint32_t>(*v);
    out[it.key()] = l;
  }
}

}  // namespace

void validate_unified_key(const std::string& key) {
  const std::string field = "linux.resources.unified[\"" + key + "\"]";
  if (key.empty() || key == "." || key == ".." || key.find('/') != std::string::npos ||
      key.find('\0') != std::string::npos) {
    throw Error(field + ": must be a file name in the container's cgroup");
  }
  // Interface files are always "<controller>.<name>"; anything else (cgroup.procs is one, but
  // we still refuse moving processes this way) is not a resource.
  if (key == "cgroup.procs" || key == "cgroup.threads" || key == "cgroup.subtree_control")
    throw Error(field + ": is not a resource");
}

Resources parse_resources(const nlohmann::json& r) {
  Resources out;
  if (r.is_null()) return out;
  if (!r.is_object()) bad("linux.resources", "must be an object");
  if (const json* m = object_member(r, "memory", "linux.resources")) parse_memory(*m, out.memory);
  if (const json* c = object_member(r, "cpu", "linux.resources")) parse_cpu(*c, out.cpu);
  if (const json* p = object_member(r, "pids", "linux.resources"))
    out.pids.limit = opt_int(*p, "limit", "linux.resources.pids");
  if (const json* io = object_member(r, "blockIO", "linux.resources")) parse_block_io(*io, out.block_io);
  if (const json* h = array_member(r, "hugepageLimits", "linux.resources")) parse_hugepages(*h, out.hugepage_limits);
  if (const json* n = object_member(r, "network", "linux.resources")) parse_network(*n, out.network);
  if (const json* d = array_member(r, "devices", "linux.resources")) {
    out.has_devices = true;
    parse_devices(*d, out.devices);
  }
  if (const json* rd = object_member(r, "rdma", "linux.resources")) parse_rdma(*rd, out.rdma);
  if (const json* u = object_member(r, "unified", "linux.resources")) {
    for (auto it = u->begin(); it != u->end(); ++it) {
      validate_unified_key(it.key());
      if (!it->is_string()) bad("linux.resources.unified[\"" + it.key() + "\"]", "must be a string");
      out.unified[it.key()] = it->get<std::string>();
    }
  }
  return out;
}

const std::vector<DeviceRule>& default_device_rules() {
  static const std::vector<DeviceRule> rules = [] {
    std::vector<DeviceRule> r;
    auto add = [&](char type, std::optional<int64_t> major, std::optional<int64_t> minor, const char* access) {
      r.push_back(DeviceRule{true, type, major, minor, access});
    };
    add('c', std::nullopt, std::nullopt, "m");  // mknod of any char device
    add('b', std::nullopt, std::nullopt, "m");  // mknod of any block device
    add('c', 1, 3, "rwm");                      // /dev/null
    add('c', 1, 5, "rwm");                      // /dev/zero
    add('c', 1, 7, "rwm");                      // /dev/full
    add('c', 1, 8, "rwm");                      // /dev/random
    add('c', 1, 9, "rwm");                      // /dev/urandom
    add('c', 5, 0, "rwm");                      // /dev/tty
    add('c', 5, 1, "rwm");                      // /dev/console
    add('c', 5, 2, "rwm");                      // /dev/ptmx
    add('c', 10, 200, "rwm");                   // /dev/net/tun
    add('c', 136, std::nullopt, "rwm");         // /dev/pts/*
    return r;
  }();
  return rules;
}

std::string device_rule_line(const DeviceRule& rule) {
  auto num = [](const std::optional<int64_t>& n) { return n ? std::to_string(*n) : std::string("*"); };
  return std::string(1, rule.type) + " " + num(rule.major) + ":" + num(rule.minor) + " " + rule.access;
}

uint64_t shares_to_weight(uint64_t shares) {
  if (shares == 0) return 0;  // "not set"
  if (shares < 2) shares = 2;
  if (shares > 262144) shares = 262144;
  return 1 + ((shares - 2) * 9999) / 262142;
}

uint64_t blkio_weight_to_io_weight(uint64_t weight) {
  if (weight == 0) return 0;
  if (weight < 10) weight = 10;
  if (weight > 1000) weight = 1000;
  return 1 + ((weight - 10) * 9999) / 990;
}

std::optional<std::string> swap_v2_value(std::optional<int64_t> limit, std::optional<int64_t> swap) {
  const std::string field = "linux.resources.memory.swap";
  if (!swap || *swap == 0) {
    // No swap given: an unlimited memory limit means unlimited swap as well.
    if (limit && *limit == -1) return std::string("max");
    return std::nullopt;
  }
  if (*swap == -1) return std::string("max");
  if (!limit || *limit == 0 || *limit == -1) throw Error(field + ": a swap limit needs a memory limit");
  if (*swap < *limit) throw Error(field + ": must be at least linux.resources.memory.limit (it counts memory+swap)");
  return std::to_string(*swap - *limit);
}

std::string rdma_max_line(const std::string& device, const RdmaLimit& limit) {
  return device + " hca_handle=" + (limit.hca_handles ? std::to_string(*limit.hca_handles) : "max") +
         " hca_object=" + (limit.hca_objects ? std::to_string(*limit.hca_objects) : "max");
}

}  // namespace kiln::cgroups
