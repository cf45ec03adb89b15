#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cgroups/manager.hpp"
#include "cgroups/resources.hpp"
#include "common/error.hpp"

using namespace kiln::cgroups;
using nlohmann::json;

namespace {

std::string parse_error(const json& j) {
  try {
    parse_resources(j);
  } catch (const kiln::Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(Resources, ParsesFullObject) {
  json j = json::parse(R"({
    "memory": {"limit": 33554432, "reservation": 16777216, "swap": 67108864, "kernel": -1, "kernelTCP": 1048576,
               "swappiness": 10, "disableOOMKiller": true, "useHierarchy": true, "checkBeforeUpdate": false},
    "cpu": {"shares": 512, "quota": 10000, "burst": 500, "period": 100000, "realtimeRuntime": 950000,
            "realtimePeriod": 1000000, "cpus": "0-1", "mems": "0", "idle": 1},
    "pids": {"limit": 5},
    "blockIO": {"weight": 500, "leafWeight": 300,
                "weightDevice": [{"major": 8, "minor": 0, "weight": 600, "leafWeight": 200}],
                "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
                "throttleWriteBpsDevice": [{"major": 8, "minor": 0, "rate": 2097152}],
                "throttleReadIOPSDevice": [{"major": 8, "minor": 16, "rate": 100}],
                "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 200}]},
    "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}],
    "network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 5}]},
    "devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"}],
    "rdma": {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}},
    "unified": {"memory.high": "1000000", "io.max": "8:0 rbps=1"}
  })");
  Resources r = parse_resources(j);
  EXPECT_EQ(r.memory.limit, 33554432);
  EXPECT_EQ(r.memory.reservation, 16777216);
  EXPECT_EQ(r.memory.swap, 67108864);
  EXPECT_EQ(r.memory.kernel, -1);
  EXPECT_EQ(r.memory.kernel_tcp, 1048576);
  EXPECT_EQ(r.memory.swappiness, 10u);
  EXPECT_EQ(r.memory.disable_oom_killer, true);
  EXPECT_EQ(r.memory.use_hierarchy, true);
  EXPECT_EQ(r.memory.check_before_update, false);
  EXPECT_EQ(r.cpu.shares, 512u);
  EXPECT_EQ(r.cpu.quota, 10000);
  EXPECT_EQ(r.cpu.burst, 500u);
  EXPECT_EQ(r.cpu.period, 100000u);
  EXPECT_EQ(r.cpu.realtime_runtime, 950000);
  EXPECT_EQ(r.cpu.realtime_period, 1000000u);
  EXPECT_EQ(r.cpu.cpus, "0-1");
  EXPECT_EQ(r.cpu.mems, "0");
  EXPECT_EQ(r.cpu.idle, 1);
  EXPECT_EQ(r.pids.limit, 5);
  EXPECT_EQ(r.block_io.weight, 500);
  EXPECT_EQ(r.block_io.leaf_weight, 300);
  ASSERT_EQ(r.block_io.weight_device.size(), 1u);
  EXPECT_EQ(r.block_io.weight_device[0].weight, 600);
  EXPECT_EQ(r.block_io.weight_device[0].leaf_weight, 200);
  ASSERT_EQ(r.block_io.throttle_read_bps_device.size(), 1u);
  EXPECT_EQ(r.block_io.throttle_read_bps_device[0].rate, 1048576u);
  EXPECT_EQ(r.block_io.throttle_write_bps_device[0].rate, 2097152u);
  EXPECT_EQ(r.block_io.throttle_read_iops_device[0].minor, 16);
  EXPECT_EQ(r.block_io.throttle_write_iops_device[0].rate, 200u);
  ASSERT_EQ(r.hugepage_limits.size(), 1u);
  EXPECT_EQ(r.hugepage_limits[0].page_size, "2MB");
  EXPECT_EQ(r.hugepage_limits[0].limit, 4194304u);
  EXPECT_EQ(r.network.class_id, 1048577u);
  ASSERT_EQ(r.network.priorities.size(), 1u);
  EXPECT_EQ(r.network.priorities[0].name, "eth0");
  EXPECT_EQ(r.network.priorities[0].priority, 5u);
  EXPECT_TRUE(r.has_devices);
  ASSERT_EQ(r.devices.size(), 2u);
  EXPECT_EQ(device_rule_line(r.devices[0]), "a *:* rwm");
  EXPECT_FALSE(r.devices[0].allow);
  EXPECT_EQ(device_rule_line(r.devices[1]), "c 1:3 rw");
  EXPECT_EQ(r.rdma.at("mlx5_1").hca_handles, 3u);
  EXPECT_EQ(r.rdma.at("mlx5_1").hca_objects, 10000u);
  EXPECT_EQ(r.unified.at("memory.high"), "1000000");
}

TEST(Resources, AbsentMeansUnset) {
  Resources r = parse_resources(json::parse(R"({"memory": {"limit": null}, "cpu": {}})"));
  EXPECT_FALSE(r.memory.limit);
  EXPECT_FALSE(r.cpu.shares);
  EXPECT_FALSE(r.has_devices);
  Resources none = parse_resources(json());
  EXPECT_FALSE(none.pids.limit);
}

TEST(Resources, BadTypesNameTheField) {
  EXPECT_EQ(parse_error(json::parse(R"({"memory": {"limit": "1G"}})")),
            "linux.resources.memory.limit: must be an integer");
  EXPECT_EQ(parse_error(json::parse(R"({"memory": {"limit": 1.5}})")),
            "linux.resources.memory.limit: must be an integer");
  EXPECT_EQ(parse_error(json::parse(R"({"memory": {"limit": -2}})")),
            "linux.resources.memory.limit: must be -1 (unlimited) or a number of bytes");
  EXPECT_EQ(parse_error(json::parse(R"({"memory": {"swappiness": 101}})")),
            "linux.resources.memory.swappiness: must be between 0 and 100");
  EXPECT_EQ(parse_error(json::parse(R"({"memory": {"disableOOMKiller": 1}})")),
            "linux.resources.memory.disableOOMKiller: must be true or false");
  EXPECT_EQ(parse_error(json::parse(R"({"memory": 5})")), "linux.resources.memory: must be an object");
  EXPECT_EQ(parse_error(json::parse(R"({"cpu": {"shares": -1}})")), "linux.resources.cpu.shares: must not be negative");
  EXPECT_EQ(parse_error(json::parse(R"({"cpu": {"cpus": 3}})")), "linux.resources.cpu.cpus: must be a string");
  EXPECT_EQ(parse_error(json::parse(R"({"cpu": {"cpus": "0;1"}})")),
            "linux.resources.cpu.cpus: must be a list like \"0-3,5\"");
  EXPECT_EQ(parse_error(json::parse(R"({"cpu": {"idle": 2}})")), "linux.resources.cpu.idle: must be 0 or 1");
  EXPECT_EQ(parse_error(json::parse(R"({"pids": {"limit": true}})")), "linux.resources.pids.limit: must be an integer");
  EXPECT_EQ(parse_error(json::parse(R"({"blockIO": {"weight": 1001}})")),
            "linux.resources.blockIO.weight: must be at most 1000");
  EXPECT_EQ(parse_error(json::parse(R"({"blockIO": {"throttleReadBpsDevice": [{"major": 8, "minor": 0}]}})")),
            "linux.resources.blockIO.throttleReadBpsDevice[0].rate: missing");
  EXPECT_EQ(parse_error(json::parse(R"({"blockIO": {"weightDevice": {}}})")),
            "linux.resources.blockIO.weightDevice: must be an array");
  EXPECT_EQ(parse_error(json::parse(R"({"hugepageLimits": [{"pageSize": "2M", "limit": 1}]})")),
            "linux.resources.hugepageLimits[0].pageSize: must be like \"2MB\" or \"1GB\"");
  EXPECT_EQ(parse_error(json::parse(R"({"network": {"classID": -1}})")),
            "linux.resources.network.classID: must not be negative");
  EXPECT_EQ(parse_error(json::parse(R"({"network": {"priorities": [{"name": "eth0 1\nlo", "priority": 1}]}})")),
            "linux.resources.network.priorities[0].name: is not an interface name");
  EXPECT_EQ(parse_error(json::parse(R"({"devices": [{"allow": true, "type": "x"}]})")),
            "linux.resources.devices[0].type: must be \"a\", \"c\" or \"b\"");
  EXPECT_EQ(parse_error(json::parse(R"({"devices": [{"allow": true, "access": "rwx"}]})")),
            "linux.resources.devices[0].access: must be a combination of r, w and m");
  EXPECT_EQ(parse_error(json::parse(R"({"devices": [{"type": "c"}]})")), "linux.resources.devices[0].allow: missing");
  EXPECT_EQ(parse_error(json::parse(R"({"rdma": {"mlx": {"hcaHandles": "x"}}})")),
            "linux.resources.rdma.mlx.hcaHandles: must be an integer");
  EXPECT_EQ(parse_error(json::parse(R"({"unified": {"memory.max": 5}})")),
            "linux.resources.unified[\"memory.max\"]: must be a string");
  EXPECT_EQ(parse_error(json::parse(R"([1])")), "linux.resources: must be an object");
}

TEST(Resources, UnifiedKeysMustBeFileNames) {
  EXPECT_EQ(parse_error(json::parse(R"({"unified": {"../memory.max": "1"}})")),
            "linux.resources.unified[\"../memory.max\"]: must be a file name in the container's cgroup");
  EXPECT_EQ(parse_error(json::parse(R"({"unified": {"..": "1"}})")),
            "linux.resources.unified[\"..\"]: must be a file name in the container's cgroup");
  EXPECT_EQ(parse_error(json::parse(R"({"unified": {"a/b": "1"}})")),
            "linux.resources.unified[\"a/b\"]: must be a file name in the container's cgroup");
  EXPECT_EQ(parse_error(json::parse(R"({"unified": {"": "1"}})")),
            "linux.resources.unified[\"\"]: must be a file name in the container's cgroup");
  EXPECT_EQ(parse_error(json::parse(R"({"unified": {"cgroup.procs": "1"}})")),
            "linux.resources.unified[\"cgroup.procs\"]: is not a resource");
  EXPECT_NO_THROW(validate_unified_key("memory.high"));
}

TEST(Resources, SharesToWeight) {
  EXPECT_EQ(shares_to_weight(0), 0u);
  EXPECT_EQ(shares_to_weight(2), 1u);
  EXPECT_EQ(shares_to_weight(1024), 39u);
  EXPECT_EQ(shares_to_weight(512), 20u);
  EXPECT_EQ(shares_to_weight(262144), 10000u);
  EXPECT_EQ(blkio_weight_to_io_weight(10), 1u);
  EXPECT_EQ(blkio_weight_to_io_weight(500), 4950u);
  EXPECT_EQ(blkio_weight_to_io_weight(1000), 10000u);
}

TEST(Resources, SwapConversionV1ToV2) {
  EXPECT_EQ(swap_v2_value(std::nullopt, std::nullopt), std::nullopt);
  EXPECT_EQ(swap_v2_value(1000, std::nullopt), std::nullopt);
  EXPECT_EQ(swap_v2_value(-1, std::nullopt), "max");
  EXPECT_EQ(swap_v2_value(-1, 0), "max");
  EXPECT_EQ(swap_v2_value(1000, -1), "max");
  EXPECT_EQ(swap_v2_value(1000, 1000), "0");
  EXPECT_EQ(swap_v2_value(1000, 3000), "2000");
  EXPECT_THROW(swap_v2_value(3000, 1000), kiln::Error);
  EXPECT_THROW(swap_v2_value(std::nullopt, 1000), kiln::Error);
  EXPECT_THROW(swap_v2_value(-1, 1000), kiln::Error);
}

TEST(Resources, DefaultDevices) {
  std::vector<std::string> lines;
  for (const auto& r : default_device_rules()) lines.push_back(device_rule_line(r));
  std::vector<std::string> want = {"c *:* m",   "b *:* m",   "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm",    "c 1:8 rwm",
                                   "c 1:9 rwm", "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 10:200 rwm", "c 136:* rwm"};
  EXPECT_EQ(lines, want);
}
