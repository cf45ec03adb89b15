// The manager make_manager() picks for this host (hybrid here), on the real hierarchies, with
// forked children (not containers). Every cgroup is removed by a guard, also when a test fails.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "cgroups/manager.hpp"
#include "common/error.hpp"

using namespace kiln::cgroups;
namespace fs = std::filesystem;

namespace {

bool have_root_cgroups() { return ::geteuid() == 0 && fs::exists("/sys/fs/cgroup/memory/cgroup.procs"); }

std::string unique_path() {
  static std::atomic<int> n{0};
  return "/kiln-test-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
}

// Destroys the cgroup on every exit path; destroy() also kills what is left inside.
struct Guard {
  std::unique_ptr<Manager> m;
  explicit Guard(const std::string& path, const std::string& id = "test") : m(make_manager(path, id)) {}
  ~Guard() {
    try {
      m->destroy();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "cleanup: " << e.what();
    }
  }
  Manager* operator->() { return m.get(); }
};

// A forked child that waits until the parent placed it in the cgroup, then runs body and exits
// with its result. Reaped (killed first if needed) when it goes out of scope.
struct Child {
  pid_t pid = -1;
  int go = -1;
  explicit Child(std::function<int()> body) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    pid = ::fork();
    if (pid == 0) {
      ::close(p[1]);
      char c;
      if (::read(p[0], &c, 1) != 1) ::_exit(99);
      ::_exit(body());
    }
    ::close(p[0]);
    go = p[1];
  }
  void start() {
    if (go >= 0) {
      (void)::write(go, "x", 1);
      ::close(go);
      go = -1;
    }
  }
  int wait() {
    int status = 0;
    if (pid > 0 && ::waitpid(pid, &status, 0) == pid) pid = -1;
    return status;
  }
  ~Child() {
    if (go >= 0) ::close(go);
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
};

char proc_state(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = s.rfind(')');
  return close == std::string::npos || close + 2 >= s.size() ? '?' : s[close + 2];
}

uint64_t cpu_stat(const std::string& dir, const std::string& key) {
  std::ifstream in(dir + "/cpu.stat");
  std::string k;
  uint64_t v;
  while (in >> k >> v) {
    if (k == key) return v;
  }
  return 0;
}

}  // namespace

#define REQUIRE_ROOT_CGROUPS() \
  if (!have_root_cgroups()) GTEST_SKIP() << "needs root and cgroup v1 hierarchies"

TEST(RealCgroups, CreateAddAndPaths) {
  REQUIRE_ROOT_CGROUPS();
  const std::string path = unique_path();
  std::map<std::string, std::string> paths;
  {
    Guard g(path);
    g->create();
    g->create();  // idempotent
    paths = g->paths();
    EXPECT_EQ(paths.at("memory"), "/sys/fs/cgroup/memory" + path);
    EXPECT_EQ(paths.at("name=systemd"), "/sys/fs/cgroup/systemd" + path);
    if (g->layout() == Layout::hybrid) {
      EXPECT_EQ(paths.at("unified"), "/sys/fs/cgroup/unified" + path);
    }
    // cpuset: a new cgroup must be usable at once (cpus/mems copied from the parent).
    std::ifstream cpus(paths.at("cpuset") + "/cpuset.cpus");
    std::string v;
    cpus >> v;
    EXPECT_FALSE(v.empty());
    Child c([] {
      ::pause();
      return 0;
    });
    g->add_process(c.pid);
    auto pids = g->pids();
    ASSERT_EQ(pids.size(), 1u);
    EXPECT_EQ(pids[0], c.pid);
    for (const auto& [controller, dir] : paths) {
      std::ifstream procs(dir + "/cgroup.procs");
      pid_t p = 0;
      procs >> p;
      EXPECT_EQ(p, c.pid) << controller;
    }
  }
  for (const auto& [controller, dir] : paths) EXPECT_FALSE(fs::exists(dir)) << dir;
}

TEST(RealCgroups, MemoryLimitOomKills) {
  REQUIRE_ROOT_CGROUPS();
  Guard g(unique_path());
  g->create();
  Resources r;
  r.memory.limit = 32 << 20;
  r.memory.swap = 32 << 20;  // memory+swap: no swap at all
  g->apply(r);
  Child c([] {
    const size_t size = 100 << 20;
    char* p = static_cast<char*>(::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (p == MAP_FAILED) return 2;
    for (size_t i = 0; i < size; i += 4096) p[i] = 1;
    return 0;
  });
  g->add_process(c.pid);
  c.start();
  int status = c.wait();
  ASSERT_TRUE(WIFSIGNALED(status)) << "exit status " << status;
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  EXPECT_GE(g->oom_kill_count(), 1u);
  EXPECT_GE(g->stats().memory.oom_kill, 1u);
}

TEST(RealCgroups, PidsLimitStopsForkLoop) {
  REQUIRE_ROOT_CGROUPS();
  Guard g(unique_path());
  g->create();
  Resources r;
  r.pids.limit = 5;
  g->apply(r);
  Child c([] {
    std::vector<pid_t> kids;
    int result = 1;
    for (int i = 0; i < 50; ++i) {
      pid_t p = ::fork();
      if (p == 0) {
        ::pause();
        ::_exit(0);
      }
      if (p < 0) {
        result = errno == EAGAIN ? 42 : 3;
        break;
      }
      kids.push_back(p);
    }
    for (pid_t k : kids) ::kill(k, SIGKILL);
    for (pid_t k : kids) ::waitpid(k, nullptr, 0);
    return result;
  });
  g->add_process(c.pid);
  c.start();
  int status = c.wait();
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 42);  // fork failed with EAGAIN at the limit
}

TEST(RealCgroups, CpuQuotaThrottles) {
  REQUIRE_ROOT_CGROUPS();
  Guard g(unique_path());
  g->create();
  Resources r;
  r.cpu.quota = 10000;
  r.cpu.period = 100000;
  r.cpu.shares = 512;
  g->apply(r);
  Child c([] {
    volatile uint64_t sink = 0;
    for (uint64_t i = 0;; ++i) sink = i;
    return static_cast<int>(sink);
  });
  g->add_process(c.pid);
  c.start();
  ::usleep(300000);
  EXPECT_GT(cpu_stat(g->paths().at("cpu"), "nr_throttled"), 0u);
  EXPECT_GT(g->stats().cpu.throttled_periods, 0u);
  EXPECT_GT(g->stats().cpu.total, 0u);
}

TEST(RealCgroups, FreezeThaw) {
  REQUIRE_ROOT_CGROUPS();
  Guard g(unique_path());
  g->create();
  Child c([] {
    for (;;) ::usleep(1000);
    return 0;
  });
  g->add_process(c.pid);
  c.start();
  g->freeze();
  EXPECT_TRUE(g->frozen());
  char st = proc_state(c.pid);
  EXPECT_TRUE(st == 'D' || st == 'S' || st == 'T') << st;
  g->thaw();
  EXPECT_FALSE(g->frozen());
  EXPECT_EQ(::kill(c.pid, 0), 0);
}

TEST(RealCgroups, KillAllKillsEveryProcess) {
  REQUIRE_ROOT_CGROUPS();
  Guard g(unique_path());
  g->create();
  auto sleeper = [] {
    ::pause();
    return 0;
  };
  Child a(sleeper), b(sleeper);
  g->add_process(a.pid);
  g->add_process(b.pid);
  g->kill_all(SIGKILL);
  int sa = a.wait(), sb = b.wait();
  EXPECT_TRUE(WIFSIGNALED(sa) && WTERMSIG(sa) == SIGKILL);
  EXPECT_TRUE(WIFSIGNALED(sb) && WTERMSIG(sb) == SIGKILL);
  EXPECT_TRUE(g->pids().empty());
}

TEST(RealCgroups, StatsReportUsage) {
  REQUIRE_ROOT_CGROUPS();
  Guard g(unique_path());
  g->create();
  Resources r;
  r.pids.limit = 100;
  g->apply(r);
  int ready[2];
  ASSERT_EQ(::pipe2(ready, O_CLOEXEC), 0);
  Child c([&] {
    const size_t size = 8 << 20;
    char* p = static_cast<char*>(::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    for (size_t i = 0; i < size; i += 4096) p[i] = 1;
    (void)::write(ready[1], "x", 1);
    ::pause();
    return 0;
  });
  ::close(ready[1]);
  g->add_process(c.pid);
  c.start();
  char x;
  ASSERT_EQ(::read(ready[0], &x, 1), 1);
  ::close(ready[0]);
  Stats s = g->stats();
  EXPECT_GT(s.memory.usage.usage, 4u << 20);
  EXPECT_EQ(s.pids.current, 1u);
  EXPECT_EQ(s.pids.limit, 100u);
}

TEST(RealCgroups, DestroyKillsAndRemovesEverywhere) {
  REQUIRE_ROOT_CGROUPS();
  auto m = make_manager(unique_path(), "test");
  m->create();
  Child c([] {
    ::pause();
    return 0;
  });
  m->add_process(c.pid);
  // A sub-cgroup the "container" made for itself goes too.
  const auto paths = m->paths();
  fs::create_directory(paths.at("memory") + "/inner");
  m->destroy();
  int status = c.wait();
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  for (const auto& [controller, dir] : paths) EXPECT_FALSE(fs::exists(dir)) << dir;
  m->destroy();  // already gone: no error
}

TEST(RealCgroups, KernelRejectsValue) {
  REQUIRE_ROOT_CGROUPS();
  const std::string path = unique_path();
  std::map<std::string, std::string> paths;
  {
    Guard g(path);
    g->create();
    paths = g->paths();
    Resources r;
    r.cpu.cpus = "999";
    try {
      g->apply(r);
      FAIL() << "no error";
    } catch (const kiln::Error& e) {
      EXPECT_EQ(std::string(e.what()), "set linux.resources.cpu.cpus: write 999 to /sys/fs/cgroup/cpuset" + path +
                                           "/cpuset.cpus: Numerical result out of range");
    }
  }
  for (const auto& [controller, dir] : paths) EXPECT_FALSE(fs::exists(dir)) << dir;
}

TEST(RealCgroups, DevicesV1DenyByDefault) {
  REQUIRE_ROOT_CGROUPS();
  Guard g(unique_path());
  g->create();
  Resources r;
  r.devices.push_back(DeviceRule{false, 'a', std::nullopt, std::nullopt, "rwm"});
  g->apply(r);
  std::ifstream list(g->paths().at("devices") + "/devices.list");
  std::stringstream ss;
  ss << list.rdbuf();
  EXPECT_NE(ss.str().find("c 1:3 rwm"), std::string::npos) << ss.str();
  EXPECT_NE(ss.str().find("c 136:* rwm"), std::string::npos) << ss.str();
  EXPECT_EQ(ss.str().find("a *:* rwm"), std::string::npos) << ss.str();
  Child c([] {
    int ok = ::open("/dev/null", O_RDONLY | O_CLOEXEC) >= 0;
    int denied = ::open("/dev/kmsg", O_RDONLY | O_CLOEXEC) < 0 && errno == EPERM;
    return ok && denied ? 0 : 1;
  });
  g->add_process(c.pid);
  c.start();
  int status = c.wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST(RealCgroups, MemoryUpdateRaisesAndLowers) {
  REQUIRE_ROOT_CGROUPS();
  Guard g(unique_path());
  g->create();
  Resources r;
  r.memory.limit = 32 << 20;
  r.memory.swap = 32 << 20;
  g->apply(r);
  Resources up;
  up.memory.limit = 64 << 20;  // above the current memsw: memsw has to move first
  up.memory.swap = 128 << 20;
  g->update(up);
  std::ifstream in(g->paths().at("memory") + "/memory.limit_in_bytes");
  uint64_t v = 0;
  in >> v;
  EXPECT_EQ(v, 64u << 20);
  Resources unlimited;
  unlimited.memory.limit = -1;
  g->update(unlimited);
}

// Hybrid host: hugetlb is not a v1 hierarchy here but a controller of the unified tree.
TEST(RealCgroups, HybridHugetlbGoesToUnified) {
  REQUIRE_ROOT_CGROUPS();
  Guard g(unique_path());
  if (g->layout() != Layout::hybrid) GTEST_SKIP() << "not a hybrid host";
  g->create();
  const auto paths = g->paths();
  if (paths.count("hugetlb")) GTEST_SKIP() << "hugetlb is a v1 hierarchy here";
  const std::string file = paths.at("unified") + "/hugetlb.2MB.max";
  if (!fs::exists(file)) GTEST_SKIP() << "no 2MB hugetlb in the unified tree";
  Resources r;
  r.hugepage_limits.push_back({"2MB", 8 << 20});
  r.unified["hugetlb.2MB.rsvd.max"] = "8388608";
  g->apply(r);
  std::ifstream in(file);
  uint64_t v = 0;
  in >> v;
  EXPECT_EQ(v, 8u << 20);
  Child c([] {
    ::pause();
    return 0;
  });
  g->add_process(c.pid);
  std::ifstream procs(paths.at("unified") + "/cgroup.procs");
  pid_t p = 0;
  procs >> p;
  EXPECT_EQ(p, c.pid);
  EXPECT_TRUE(g->stats().hugetlb.count("2MB"));
}
