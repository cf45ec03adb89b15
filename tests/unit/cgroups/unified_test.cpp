// The v2 code for real on this host's cgroup2 tree (/sys/fs/cgroup/unified on hybrid, or
// /sys/fs/cgroup on pure v2), and the device eBPF program: its logic through a small
// interpreter of the instructions device_program() emits, and attached for real.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/magic.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "cgroups/cgroup_path.hpp"
#include "cgroups/device_bpf.hpp"
#include "cgroups/v2_manager.hpp"
#include "common/error.hpp"

using namespace kiln::cgroups;
namespace fs = std::filesystem;

namespace {

// Runs prog on one device access like the kernel would; only the opcodes device_program emits.
int run(const std::vector<bpf_insn>& prog, char type, uint32_t major, uint32_t minor, const std::string& access) {
  uint32_t acc = 0;
  for (char c : access) acc |= c == 'm' ? BPF_DEVCG_ACC_MKNOD : c == 'r' ? BPF_DEVCG_ACC_READ : BPF_DEVCG_ACC_WRITE;
  bpf_cgroup_dev_ctx ctx{(acc << 16) | (type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR), major, minor};
  uint64_t reg[11] = {};
  for (size_t pc = 0; pc < prog.size(); ++pc) {
    const bpf_insn& i = prog[pc];
    switch (i.code) {
      case BPF_LDX | BPF_MEM | BPF_W: {
        uint32_t v;
        std::memcpy(&v, reinterpret_cast<const char*>(&ctx) + i.off, 4);
        EXPECT_EQ(i.src_reg, 1);
        reg[i.dst_reg] = v;
        break;
      }
      case BPF_ALU | BPF_MOV | BPF_X: reg[i.dst_reg] = static_cast<uint32_t>(reg[i.src_reg]); break;
      case BPF_ALU | BPF_AND | BPF_K:
        reg[i.dst_reg] = static_cast<uint32_t>(reg[i.dst_reg] & static_cast<uint32_t>(i.imm));
        break;
      case BPF_ALU | BPF_RSH | BPF_K: reg[i.dst_reg] = static_cast<uint32_t>(reg[i.dst_reg]) >> i.imm; break;
      case BPF_ALU64 | BPF_MOV | BPF_K: reg[i.dst_reg] = static_cast<uint64_t>(static_cast<int64_t>(i.imm)); break;
      case BPF_JMP | BPF_JNE | BPF_K:
        if (reg[i.dst_reg] != static_cast<uint64_t>(static_cast<int64_t>(i.imm))) pc += i.off;
        break;
      case BPF_JMP | BPF_JEQ | BPF_K:
        if (reg[i.dst_reg] == static_cast<uint64_t>(static_cast<int64_t>(i.imm))) pc += i.off;
        break;
      case BPF_JMP | BPF_EXIT: return static_cast<int>(reg[0]);
      default: ADD_FAILURE() << "unexpected opcode " << int(i.code); return -1;
    }
    EXPECT_LT(pc + 1, prog.size() + 1);
  }
  ADD_FAILURE() << "fell off the end";
  return -1;
}

DeviceRule rule(bool allow, char type, std::optional<int64_t> major, std::optional<int64_t> minor, const char* access) {
  return DeviceRule{allow, type, major, minor, access};
}

std::string cgroup2_root() {
  struct statfs st;
  if (::statfs("/sys/fs/cgroup", &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC) return "/sys/fs/cgroup";
  if (::statfs("/sys/fs/cgroup/unified", &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC) return "/sys/fs/cgroup/unified";
  return "";
}

std::string unique_path() {
  static std::atomic<int> n{0};
  return "/kiln-test-v2-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
}

struct Guard {
  V2Manager m;
  Guard(const std::string& root, const std::string& path) : m(root, resolve_cgroups_path(path, "t")) {}
  ~Guard() {
    try {
      m.destroy();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "cleanup: " << e.what();
    }
  }
};

pid_t fork_child(int go_fd, int (*body)()) {
  pid_t pid = ::fork();
  if (pid == 0) {
    char c;
    if (::read(go_fd, &c, 1) != 1) ::_exit(99);
    ::_exit(body());
  }
  return pid;
}

}  // namespace

TEST(DeviceProgram, DefaultsAndLastMatchWins) {
  std::vector<DeviceRule> rules = {rule(false, 'a', {}, {}, "rwm")};
  rules.insert(rules.end(), default_device_rules().begin(), default_device_rules().end());
  auto prog = device_program(rules);
  EXPECT_EQ(run(prog, 'c', 1, 3, "rw"), 1);    // /dev/null
  EXPECT_EQ(run(prog, 'c', 136, 7, "rw"), 1);  // a pty
  EXPECT_EQ(run(prog, 'c', 1, 1, "r"), 0);     // /dev/mem
  EXPECT_EQ(run(prog, 'b', 8, 0, "r"), 0);     // a disk
  EXPECT_EQ(run(prog, 'b', 8, 0, "m"), 1);     // mknod of any block device
  EXPECT_EQ(run(prog, 'b', 8, 0, "rm"), 0);    // ... but not reading it
  EXPECT_EQ(run(prog, 'c', 10, 200, "rwm"), 1);

  // A later deny overrides an earlier allow, for any overlapping access.
  auto p2 = device_program({rule(true, 'a', {}, {}, "rwm"), rule(false, 'c', 1, 3, "w")});
  EXPECT_EQ(run(p2, 'c', 1, 3, "r"), 1);
  EXPECT_EQ(run(p2, 'c', 1, 3, "rw"), 0);
  EXPECT_EQ(run(p2, 'c', 1, 5, "w"), 1);
  EXPECT_EQ(run(p2, 'b', 1, 3, "w"), 1);
  // An allow covers only requests within its access.
  auto p3 = device_program({rule(true, 'c', 4, {}, "r")});
  EXPECT_EQ(run(p3, 'c', 4, 9, "r"), 1);
  EXPECT_EQ(run(p3, 'c', 4, 9, "rw"), 0);
  EXPECT_EQ(run(p3, 'c', 5, 9, "r"), 0);
  // A match-all rule ends the program (the verifier rejects unreachable code).
  auto p4 = device_program({rule(false, 'c', 1, 3, "rwm"), rule(true, 'a', {}, {}, "rwm")});
  EXPECT_EQ(p4.size(), 8u);
  EXPECT_EQ(run(p4, 'c', 1, 3, "r"), 1);
}

TEST(UnifiedReal, CreateMoveFreezeKillDestroy) {
  const std::string root = cgroup2_root();
  if (root.empty() || ::geteuid() != 0) GTEST_SKIP() << "needs root and a cgroup2 mount";
  const std::string path = unique_path();
  std::string dir;
  {
    Guard g(root, path);
    g.m.create();
    dir = g.m.dir();
    ASSERT_TRUE(fs::is_directory(dir));
    int go[2];
    ASSERT_EQ(::pipe2(go, O_CLOEXEC), 0);
    pid_t pid = fork_child(go[0], [] {
      for (;;) ::pause();
      return 0;
    });
    ::close(go[0]);
    g.m.add_process(pid);
    EXPECT_EQ(g.m.pids(), std::vector<pid_t>{pid});
    EXPECT_GE(g.m.clone_into_fd(), 0);
    (void)::write(go[1], "x", 1);
    ::close(go[1]);
    if (fs::exists(dir + "/cgroup.freeze")) {
      g.m.freeze();
      EXPECT_TRUE(g.m.frozen());
      g.m.thaw();
      EXPECT_FALSE(g.m.frozen());
    }
    g.m.kill_all(SIGKILL);  // cgroup.kill where present, else signals
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  }
  EXPECT_FALSE(fs::exists(dir));
}

TEST(UnifiedReal, HugetlbLimitWhereAvailable) {
  const std::string root = cgroup2_root();
  if (root.empty() || ::geteuid() != 0) GTEST_SKIP() << "needs root and a cgroup2 mount";
  Guard g(root, unique_path());
  g.m.create();
  if (!fs::exists(g.m.dir() + "/hugetlb.2MB.max")) GTEST_SKIP() << "no hugetlb 2MB in the cgroup2 tree";
  Resources r;
  r.hugepage_limits.push_back({"2MB", 4 << 20});
  g.m.apply_resources(r, false);
  std::ifstream in(g.m.dir() + "/hugetlb.2MB.max");
  uint64_t v = 0;
  in >> v;
  EXPECT_EQ(v, 4u << 20);
  EXPECT_TRUE(g.m.stats().hugetlb.count("2MB"));
}

TEST(UnifiedReal, DeviceProgramAttachedForReal) {
  const std::string root = cgroup2_root();
  if (root.empty() || ::geteuid() != 0) GTEST_SKIP() << "needs root and a cgroup2 mount";
  Guard g(root, unique_path());
  g.m.create();
  Resources r;
  r.devices.push_back(rule(false, 'a', {}, {}, "rwm"));
  r.devices.push_back(rule(false, 'c', 1, 3, "rwm"));  // overridden by the defaults' /dev/null
  r.devices.push_back(rule(true, 'c', 1, 8, "r"));
  try {
    g.m.apply_resources(r, true);
  } catch (const kiln::Error& e) {
    if (e.code() == EPERM || e.code() == ENOSYS) GTEST_SKIP() << e.what();
    throw;
  }
  // Apply again: the update replaces the program instead of stacking a second one.
  Resources r2 = r;
  r2.devices.push_back(rule(false, 'c', 1, 5, "rwm"));
  g.m.update(r2);  // has_devices is false: devices untouched
  r2.has_devices = true;
  g.m.update(r2);
  int go[2];
  ASSERT_EQ(::pipe2(go, O_CLOEXEC), 0);
  pid_t pid = fork_child(go[0], [] {
    bool null_ok = ::open("/dev/null", O_RDWR | O_CLOEXEC) >= 0;                         // default rule
    bool random_ro = ::open("/dev/random", O_RDONLY | O_CLOEXEC) >= 0;                   // default rwm
    bool zero_denied = ::open("/dev/zero", O_RDONLY | O_CLOEXEC) < 0 && errno == EPERM;  // defaults allow, but...
    bool kmsg_denied = ::open("/dev/kmsg", O_RDONLY | O_CLOEXEC) < 0 && errno == EPERM;
    return (null_ok ? 0 : 1) | (random_ro ? 0 : 2) | (zero_denied ? 4 : 0) | (kmsg_denied ? 0 : 8);
  });
  ::close(go[0]);
  g.m.add_process(pid);
  (void)::write(go[1], "x", 1);
  ::close(go[1]);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  // Defaults come after the spec's rules: /dev/zero (1:5) stays allowed despite the deny.
  EXPECT_EQ(WEXITSTATUS(status), 0);
}
