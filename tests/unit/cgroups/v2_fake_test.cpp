// The v2 manager against a fake cgroupfs: plain directories and files laid out like cgroup2.
// Checks what exactly lands in each interface file.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cgroups/manager.hpp"
#include "common/error.hpp"

using namespace kiln::cgroups;
namespace fs = std::filesystem;

namespace {

struct FakeV2 {
  std::string root;
  FakeV2() {
    char tmpl[] = "/tmp/cgfake-XXXXXX";
    root = ::mkdtemp(tmpl);
    write(root + "/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
    write(root + "/cgroup.subtree_control", "");
    fs::create_directories(root + "/kiln");
    write(root + "/kiln/cgroup.controllers", "cpuset cpu io memory pids\n");  // parent enabled only these
    write(root + "/kiln/cgroup.subtree_control", "");
  }
  ~FakeV2() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
  static void write(const std::string& p, const std::string& s) { std::ofstream(p) << s; }
  static std::string read(const std::string& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  // The interface files the kernel would create in a new cgroup.
  void populate(const std::string& dir) {
    for (const char* f :
         {"cgroup.procs", "cgroup.freeze", "cgroup.kill", "memory.max", "memory.low", "memory.swap.max", "memory.high",
          "memory.oom.group", "cpu.weight", "cpu.max", "cpu.max.burst", "cpu.idle", "cpuset.cpus", "cpuset.mems",
          "pids.max", "io.weight", "io.max", "hugetlb.2MB.max", "rdma.max"})
      write(dir + "/" + f, "");
    write(dir + "/cgroup.events", "populated 0\nfrozen 0\n");
    write(dir + "/memory.events", "low 0\nhigh 0\nmax 3\noom 2\noom_kill 2\noom_group_kill 0\n");
    write(dir + "/memory.current", "4096\n");
    write(dir + "/cpu.stat",
          "usage_usec 10\nuser_usec 6\nsystem_usec 4\nnr_periods 5\nnr_throttled 2\nthrottled_usec 7\n");
    write(dir + "/pids.current", "1\n");
    write(dir + "/io.stat", "8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n");
  }
};

Resources full() {
  return parse_resources(nlohmann::json::parse(R"({
    "memory": {"limit": 33554432, "reservation": 16777216, "swap": 67108864, "swappiness": 5},
    "cpu": {"shares": 1024, "quota": 10000, "period": 100000, "burst": 1000, "cpus": "0-1", "mems": "0", "idle": 0},
    "pids": {"limit": 5},
    "blockIO": {"weight": 500, "weightDevice": [{"major": 8, "minor": 0, "weight": 1000}],
                "throttleReadBpsDevice": [{"major": 8, "minor": 16, "rate": 1048576}],
                "throttleWriteBpsDevice": [{"major": 8, "minor": 16, "rate": 2097152}],
                "throttleReadIOPSDevice": [{"major": 8, "minor": 16, "rate": 100}],
                "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 200}]},
    "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}],
    "rdma": {"mlx5_1": {"hcaHandles": 3}},
    "devices": [{"allow": false, "access": "rwm"}],
    "unified": {"memory.high": "30000000", "memory.oom.group": "1"}
  })"));
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const kiln::Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(V2Fake, CreateEnablesAvailableControllersInAncestors) {
  FakeV2 t;
  auto m = make_manager("", "c1", {t.root, Layout::v2});
  m->create();
  EXPECT_TRUE(fs::is_directory(t.root + "/kiln/c1"));
  EXPECT_EQ(FakeV2::read(t.root + "/cgroup.subtree_control"), "+cpuset +cpu +io +memory +pids +hugetlb");
  EXPECT_EQ(FakeV2::read(t.root + "/kiln/cgroup.subtree_control"), "+cpuset +cpu +io +memory +pids");
  EXPECT_EQ(m->paths().at("unified"), t.root + "/kiln/c1");
  EXPECT_EQ(m->layout(), Layout::v2);
}

TEST(V2Fake, ApplyWritesEveryFile) {
  FakeV2 t;
  auto m = make_manager("/kiln/c2", "c2", {t.root, Layout::v2});
  m->create();
  const std::string d = t.root + "/kiln/c2";
  t.populate(d);
  m->apply(full());
  auto rd = [&](const char* f) { return FakeV2::read(d + "/" + f); };
  EXPECT_EQ(rd("memory.max"), "33554432");
  EXPECT_EQ(rd("memory.low"), "16777216");
  EXPECT_EQ(rd("memory.swap.max"), "33554432");  // memsw 64M - limit 32M
  EXPECT_EQ(rd("cpu.weight"), "39");
  EXPECT_EQ(rd("cpu.max"), "10000 100000");
  EXPECT_EQ(rd("cpu.max.burst"), "1000");
  EXPECT_EQ(rd("cpu.idle"), "0");
  EXPECT_EQ(rd("cpuset.cpus"), "0-1");
  EXPECT_EQ(rd("cpuset.mems"), "0");
  EXPECT_EQ(rd("pids.max"), "5");
  EXPECT_EQ(rd("io.weight"), "8:0 10000");  // the device weight is written after the default
  EXPECT_EQ(rd("io.max"), "8:16 rbps=1048576 wbps=2097152 riops=100 wiops=200");
  EXPECT_EQ(rd("hugetlb.2MB.max"), "4194304");
  EXPECT_EQ(rd("rdma.max"), "mlx5_1 hca_handle=3 hca_object=max");
  EXPECT_EQ(rd("memory.high"), "30000000");
  EXPECT_EQ(rd("memory.oom.group"), "1");
  m->destroy();
  EXPECT_FALSE(fs::exists(d));
  EXPECT_TRUE(fs::exists(t.root + "/kiln"));  // the fake parent holds plain files: it stays
}

TEST(V2Fake, CpuMaxVariants) {
  FakeV2 t;
  auto m = make_manager("x", "x", {t.root, Layout::v2});
  // relative: below our own cgroup; on a fake tree that path is whatever /proc/self/cgroup says
  (void)m;
  auto m2 = make_manager("/x", "x", {t.root, Layout::v2});
  m2->create();
  t.populate(t.root + "/x");
  Resources r;
  r.cpu.period = 50000;
  m2->update(r);
  EXPECT_EQ(FakeV2::read(t.root + "/x/cpu.max"), "max 50000");
  r.cpu.quota = -1;
  r.cpu.period.reset();
  m2->update(r);
  EXPECT_EQ(FakeV2::read(t.root + "/x/cpu.max"), "max");
  r.cpu.quota = 20000;
  m2->update(r);
  EXPECT_EQ(FakeV2::read(t.root + "/x/cpu.max"), "20000");
  Resources mem;
  mem.memory.limit = -1;
  m2->update(mem);
  EXPECT_EQ(FakeV2::read(t.root + "/x/memory.max"), "max");
  EXPECT_EQ(FakeV2::read(t.root + "/x/memory.swap.max"), "max");
  m2->destroy();
}

TEST(V2Fake, ErrorsNameSettingAndFile) {
  FakeV2 t;
  auto m = make_manager("/y", "y", {t.root, Layout::v2});
  m->create();  // no interface files: every write fails with ENOENT
  Resources r;
  r.pids.limit = 10;
  EXPECT_EQ(error_of([&] { m->apply(r); }),
            "set linux.resources.pids.limit: write 10 to " + t.root + "/y/pids.max: No such file or directory");
  Resources bad;
  bad.memory.limit = 1000;
  bad.memory.swap = 500;
  EXPECT_EQ(error_of([&] { m->update(bad); }),
            "linux.resources.memory.swap: must be at least linux.resources.memory.limit (it counts memory+swap)");
  Resources net;
  net.network.class_id = 1;
  EXPECT_EQ(error_of([&] { m->update(net); }),
            "set linux.resources.network: net_cls and net_prio do not exist on cgroup v2");
  Resources u;
  u.unified["../../cgroup.procs"] = "1";
  EXPECT_EQ(error_of([&] { m->update(u); }),
            "linux.resources.unified[\"../../cgroup.procs\"]: must be a file name in the container's cgroup");
  m->destroy();
  EXPECT_FALSE(fs::exists(t.root + "/y"));
}

TEST(V2Fake, FreezeKillStatsOom) {
  FakeV2 t;
  auto m = make_manager("/z", "z", {t.root, Layout::v2});
  m->create();
  const std::string d = t.root + "/z";
  t.populate(d);
  // The fake cannot change cgroup.events by itself: say "frozen" ahead.
  FakeV2::write(d + "/cgroup.events", "populated 1\nfrozen 1\n");
  m->freeze();
  EXPECT_EQ(FakeV2::read(d + "/cgroup.freeze"), "1");
  EXPECT_TRUE(m->frozen());
  m->thaw();
  EXPECT_EQ(FakeV2::read(d + "/cgroup.freeze"), "0");
  m->kill_all(SIGKILL);
  EXPECT_EQ(FakeV2::read(d + "/cgroup.kill"), "1");
  EXPECT_EQ(m->oom_kill_count(), 2u);
  Stats s = m->stats();
  EXPECT_EQ(s.memory.usage.usage, 4096u);
  EXPECT_EQ(s.memory.usage.failcnt, 3u);
  EXPECT_EQ(s.cpu.total, 10000u);
  EXPECT_EQ(s.cpu.throttled_periods, 2u);
  EXPECT_EQ(s.cpu.throttled_time, 7000u);
  EXPECT_EQ(s.pids.current, 1u);
  ASSERT_EQ(s.blkio.io_service_bytes_recursive.size(), 2u);
  EXPECT_EQ(s.blkio.io_service_bytes_recursive[1].value, 200u);
  int fd = m->clone_into_fd();
  EXPECT_GE(fd, 0);
  EXPECT_EQ(m->clone_into_fd(), fd);
  m->destroy();
  EXPECT_FALSE(fs::exists(d));
}
