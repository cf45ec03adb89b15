// Seccomp: parsing, compiling with libseccomp, loading the BPF for real in forked children,
// and the on-disk cache of compiled programs.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>

#include "common/error.hpp"
#include "common/files.hpp"
#include "common/unique_fd.hpp"
#include "runtime/seccomp_cache.hpp"
#include "runtime/seccomp_compile.hpp"
#include "runtime/seccomp_load.hpp"
#include "runtime/seccomp_profile.hpp"
#include "runtime/seccomp_sha256.hpp"

namespace kiln::runtime {
namespace {

using nlohmann::json;

const std::string kData = std::filesystem::path(__FILE__).parent_path() / "data";

json load_json(const std::string& name) { return json::parse(read_file(kData + "/" + name)); }

std::string parse_error(const json& j) {
  try {
    parse_seccomp(j);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// Forks; the child sets no_new_privs (unless told not to), loads the program and returns body()'s
// value as its exit status (100 + errno when the load fails). Returns the raw wait status.
int run_filtered(const SeccompProgram& program, const std::function<int()>& body, bool nnp = true) {
  pid_t pid = ::fork();
  if (pid == 0) {
    if (nnp && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) ::_exit(99);
    int rc = load_seccomp(program);
    if (rc < 0) ::_exit(100 + (-rc & 0x7f));
    ::_exit(body());
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

int exit_code(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status); }

SeccompProgram compile(const json& j) { return compile_seccomp(parse_seccomp(j)); }

json deny_mkdir_profile() {
  return {{"defaultAction", "SCMP_ACT_ALLOW"},
          {"syscalls", {{{"names", {"mkdir", "mkdirat"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", 1}}}}};
}

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/kiln-seccomp-test-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { remove_tree(path); }
};

std::string hex(const Sha256Digest& d) {
  std::string s;
  char buf[3];
  for (unsigned char c : d) {
    std::snprintf(buf, sizeof buf, "%02x", c);
    s += buf;
  }
  return s;
}

TEST(SeccompSha256, KnownVectors) {
  EXPECT_EQ(hex(sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(hex(sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // 56 bytes: the length no longer fits the first padding block.
  EXPECT_EQ(hex(sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(hex(sha256(std::string(1000000, 'a'))), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(SeccompParse, UnknownActionNamesTheField) {
  json j = deny_mkdir_profile();
  for (int i = 0; i < 3; ++i) j["syscalls"].push_back({{"names", {"getpid"}}, {"action", "SCMP_ACT_ALLOW"}});
  j["syscalls"][3]["action"] = "SCMP_ACT_FOO";
  EXPECT_EQ(parse_error(j), "linux.seccomp.syscalls[3].action: unknown action SCMP_ACT_FOO");
}

TEST(SeccompParse, BadFieldsAreNamed) {
  json j = deny_mkdir_profile();
  j["defaultAction"] = "ALLOW";
  EXPECT_EQ(parse_error(j), "linux.seccomp.defaultAction: unknown action ALLOW");
  j = deny_mkdir_profile();
  j["architectures"] = {"SCMP_ARCH_X86_64", "SCMP_ARCH_VAX"};
  EXPECT_EQ(parse_error(j), "linux.seccomp.architectures[1]: unknown architecture SCMP_ARCH_VAX");
  j = deny_mkdir_profile();
  j["syscalls"][0]["args"] = {{{"index", 7}, {"value", 1}, {"op", "SCMP_CMP_EQ"}}};
  EXPECT_EQ(parse_error(j), "linux.seccomp.syscalls[0].args[0].index: must be 0..5, got 7");
  j["syscalls"][0]["args"] = {{{"index", 0}, {"value", 1}, {"op", "SCMP_CMP_LIKE"}}};
  EXPECT_EQ(parse_error(j), "linux.seccomp.syscalls[0].args[0].op: unknown operator SCMP_CMP_LIKE");
  j = deny_mkdir_profile();
  j["flags"] = {"SECCOMP_FILTER_FLAG_NOPE"};
  EXPECT_EQ(parse_error(j), "linux.seccomp.flags[0]: unknown flag SECCOMP_FILTER_FLAG_NOPE");
  j = deny_mkdir_profile();
  j["syscalls"][0]["action"] = "SCMP_ACT_NOTIFY";
  EXPECT_EQ(parse_error(j), "linux.seccomp.listenerPath: required when an action is SCMP_ACT_NOTIFY");
  j = deny_mkdir_profile();
  j["defaultErrnoRet"] = -1;
  EXPECT_EQ(parse_error(j), "linux.seccomp.defaultErrnoRet: must not be negative");
}

TEST(SeccompParse, DefaultsAndFlags) {
  json j = {{"defaultAction", "SCMP_ACT_ERRNO"},
            {"flags", {"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"}},
            {"syscalls", {{{"names", {"mkdir"}}, {"action", "SCMP_ACT_ERRNO"}}}}};
  SeccompProfile p = parse_seccomp(j);
  EXPECT_EQ(p.default_errno_ret, 1u);  // EPERM when not given
  EXPECT_EQ(p.syscalls[0].errno_ret, 1u);
  EXPECT_EQ(p.flags, SECCOMP_FILTER_FLAG_LOG | SECCOMP_FILTER_FLAG_SPEC_ALLOW);
  EXPECT_FALSE(p.uses_notify());
}

TEST(SeccompLoad, ErrnoForMkdirOthersAllowed) {
  SeccompProgram program = compile(deny_mkdir_profile());
  EXPECT_FALSE(program.needs_listener);
  int status = run_filtered(program, [] {
    if (::mkdir("/tmp/kiln-seccomp-should-not-exist", 0700) == 0 || errno != EPERM) return 1;
    if (::getpid() <= 0) return 2;
    return 0;
  });
  EXPECT_EQ(exit_code(status), 0);
  EXPECT_FALSE(path_exists("/tmp/kiln-seccomp-should-not-exist"));
}

TEST(SeccompLoad, UnknownSyscallNameIsSkipped) {
  json j = deny_mkdir_profile();
  j["syscalls"][0]["names"] = {"no_such_syscall_kiln", "mkdir"};
  SeccompProgram program = compile(j);
  int status = run_filtered(
      program, [] { return ::mkdir("/tmp/kiln-seccomp-should-not-exist", 0700) == -1 && errno == EPERM ? 0 : 1; });
  EXPECT_EQ(exit_code(status), 0);
}

TEST(SeccompLoad, ArgumentConditions) {
  // Deny only personality(0xffffffff) (the query form); personality(PER_LINUX) stays allowed.
  json j = {{"defaultAction", "SCMP_ACT_ALLOW"},
            {"syscalls",
             {{{"names", {"personality"}},
               {"action", "SCMP_ACT_ERRNO"},
               {"errnoRet", EACCES},
               {"args", {{{"index", 0}, {"value", 0xffffffffULL}, {"valueTwo", 0}, {"op", "SCMP_CMP_EQ"}}}}}}}};
  int status = run_filtered(compile(j), [] {
    if (::personality(0xffffffff) != -1 || errno != EACCES) return 1;
    if (::personality(PER_LINUX) == -1) return 2;
    return 0;
  });
  EXPECT_EQ(exit_code(status), 0);
}

TEST(SeccompLoad, MaskedEqualAndRepeatedIndex) {
  // Two conditions on arg 0 of one rule are ORed (libseccomp refuses them ANDed in one rule).
  json j = {{"defaultAction", "SCMP_ACT_ALLOW"},
            {"syscalls",
             {{{"names", {"umask"}},
               {"action", "SCMP_ACT_ERRNO"},
               {"errnoRet", EPERM},
               {"args",
                {{{"index", 0}, {"value", 0700}, {"valueTwo", 0700}, {"op", "SCMP_CMP_MASKED_EQ"}},
                 {{"index", 0}, {"value", 0}, {"op", "SCMP_CMP_EQ"}}}}}}}};
  int status = run_filtered(compile(j), [] {
    if (::syscall(SYS_umask, 0777) != -1 || errno != EPERM) return 1;  // masked: 0700 set
    if (::syscall(SYS_umask, 0) != -1 || errno != EPERM) return 2;     // equal 0
    if (::syscall(SYS_umask, 022) == -1) return 3;                     // neither
    return 0;
  });
  EXPECT_EQ(exit_code(status), 0);
}

TEST(SeccompLoad, DefaultErrnoRet) {
  json j = {{"defaultAction", "SCMP_ACT_ERRNO"},
            {"defaultErrnoRet", EOPNOTSUPP},
            {"syscalls",
             // sigaltstack, rt_sig*, mprotect, madvise: AddressSanitizer's runtime calls them in the child.
             {{{"names",
                {"exit", "exit_group", "getpid", "write", "rt_sigreturn", "brk", "mmap", "munmap", "futex",
                 "sigaltstack", "rt_sigaction", "rt_sigprocmask", "mprotect", "madvise"}},
               {"action", "SCMP_ACT_ALLOW"}}}}};
  int status = run_filtered(compile(j), [] {
    if (::syscall(SYS_mkdir, "/tmp/kiln-seccomp-should-not-exist", 0700) != -1 || errno != EOPNOTSUPP) return 1;
    if (::syscall(SYS_getpid) <= 0) return 2;
    return 0;
  });
  EXPECT_EQ(exit_code(status), 0);
}

TEST(SeccompLoad, KillProcessDeliversSigsys) {
  json j = {{"defaultAction", "SCMP_ACT_ALLOW"},
            {"syscalls", {{{"names", {"mkdir"}}, {"action", "SCMP_ACT_KILL_PROCESS"}}}}};
  int status = run_filtered(compile(j), [] {
    ::syscall(SYS_mkdir, "/tmp/kiln-seccomp-should-not-exist", 0700);
    return 0;
  });
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGSYS);
}

TEST(SeccompLoad, RefusedWithoutNoNewPrivsOrCapSysAdmin) {
  SeccompProgram program = compile(deny_mkdir_profile());
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0) ::_exit(99);
    ::_exit(load_seccomp(program) == -EACCES ? 0 : 1);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_EQ(exit_code(status), 0);
}

TEST(SeccompLoad, NotifyReturnsListenerFd) {
  json j = {{"defaultAction", "SCMP_ACT_ALLOW"},
            {"listenerPath", "/run/agent.sock"},
            {"syscalls", {{{"names", {"mkdir"}}, {"action", "SCMP_ACT_NOTIFY"}}}}};
  SeccompProgram program = compile(j);
  EXPECT_TRUE(program.needs_listener);
  EXPECT_TRUE(program.flags & SECCOMP_FILTER_FLAG_NEW_LISTENER);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    int fd = load_seccomp(program);
    if (fd <= 2) ::_exit(1);
    int fdflags = ::fcntl(fd, F_GETFD);
    ::_exit(fdflags >= 0 && (fdflags & FD_CLOEXEC) ? 0 : 2);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_EQ(exit_code(status), 0);
}

TEST(SeccompLoad, SendListenerFdOverUnixSocket) {
  TempDir dir;
  std::string path = dir.path + "/agent.sock";
  UniqueFd server(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, path.c_str());
  ASSERT_EQ(::bind(server.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(server.get(), 1), 0);

  UniqueFd sent(::memfd_create("kiln-test", MFD_CLOEXEC));
  json state = {{"ociVersion", "1.0.2"}, {"id", "c1"}, {"status", "creating"}, {"pid", 42}, {"bundle", "/b"}};
  send_listener_fd(path, sent.get(), seccomp_process_state(state, 42, "meta"));

  UniqueFd conn(::accept4(server.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(conn);
  char buf[4096];
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  iovec iov{buf, sizeof buf};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n = ::recvmsg(conn.get(), &msg, MSG_CMSG_CLOEXEC);
  ASSERT_GT(n, 0);
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(c->cmsg_type, SCM_RIGHTS);
  int got;
  std::memcpy(&got, CMSG_DATA(c), sizeof got);
  UniqueFd received(got);
  struct stat a, b;
  ASSERT_EQ(::fstat(sent.get(), &a), 0);
  ASSERT_EQ(::fstat(received.get(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  json payload = json::parse(std::string(buf, static_cast<std::size_t>(n)));
  EXPECT_EQ(payload["fds"], json::array({"seccompFd"}));
  EXPECT_EQ(payload["pid"], 42);
  EXPECT_EQ(payload["metadata"], "meta");
  EXPECT_EQ(payload["state"]["id"], "c1");

  EXPECT_THROW(send_listener_fd(dir.path + "/nobody.sock", sent.get(), payload), Error);
}

// Docker's default profile as dockerd hands it to runc on amd64 with the default capabilities.
TEST(SeccompLoad, DockerDefaultProfileCompilesAndLoads) {
  SeccompProgram program = compile(load_json("docker-default-seccomp.json"));
  EXPECT_GT(program.insns.size(), 100u);
  int status = run_filtered(program, [] {
    if (::syscall(SYS_unshare, 0) != -1 || errno != EPERM) return 1;           // needs CAP_SYS_ADMIN in docker's list
    if (::syscall(SYS_clone3, nullptr, 0) != -1 || errno != ENOSYS) return 2;  // clone3 -> ENOSYS
    if (::personality(0xffffffff) == -1) return 3;
    if (::getpid() <= 0) return 4;
    // And a real program runs under it.
    char* argv[] = {const_cast<char*>("sh"), const_cast<char*>("-c"), const_cast<char*>("exit 7"), nullptr};
    ::execv("/bin/sh", argv);
    return 5;
  });
  EXPECT_EQ(exit_code(status), 7);
}

// The profile podman sent in a real `podman run` here (see /work/shared/oci-clients).
TEST(SeccompLoad, PodmanProfileCompilesAndLoads) {
  SeccompProgram program = compile(load_json("podman-seccomp.json"));
  int status = run_filtered(program, [] {
    if (::syscall(SYS_kexec_load, 0, 0, nullptr, 0) != -1 || errno != EPERM) return 1;
    if (::syscall(SYS_getpid) <= 0) return 2;
    return 0;
  });
  EXPECT_EQ(exit_code(status), 0);
}

TEST(SeccompCache, SecondPrepareHits) {
  TempDir dir;
  json profile = load_json("docker-default-seccomp.json");
  SeccompCache cache(dir.path + "/cache");
  SeccompProgram first = cache.prepare(profile);
  EXPECT_FALSE(cache.last_was_hit());
  SeccompProgram second = cache.prepare(profile);
  EXPECT_TRUE(cache.last_was_hit());
  EXPECT_EQ(cache.stats().hits, 1u);
  EXPECT_EQ(cache.stats().misses, 1u);
  ASSERT_EQ(first.insns.size(), second.insns.size());
  EXPECT_EQ(std::memcmp(first.insns.data(), second.insns.data(), first.insns.size() * sizeof(sock_filter)), 0);
  EXPECT_EQ(first.flags, second.flags);

  struct stat st;
  ASSERT_EQ(::stat((dir.path + "/cache").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat(cache.entry_path(profile).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  // A new cache object (a later kiln-runtime process) hits too, and the hit loads.
  SeccompCache later(dir.path + "/cache");
  SeccompProgram third = later.prepare(profile);
  EXPECT_TRUE(later.last_was_hit());
  EXPECT_EQ(exit_code(run_filtered(third, [] { return ::getpid() > 0 ? 0 : 1; })), 0);

  // Key order in the JSON does not matter; a different profile is a different entry.
  json reordered = json::parse(profile.dump());
  EXPECT_EQ(later.entry_path(reordered), later.entry_path(profile));
  EXPECT_NE(later.entry_path(deny_mkdir_profile()), later.entry_path(profile));
}

TEST(SeccompCache, CorruptEntriesAreRecompiledAndRewritten) {
  TempDir dir;
  json profile = deny_mkdir_profile();
  SeccompCache cache(dir.path);
  SeccompProgram good = cache.prepare(profile);
  std::string entry = cache.entry_path(profile);
  std::string original = read_file(entry);

  auto corrupt_with = [&](const std::string& bytes) {
    write_file(entry, bytes, 0600);
    SeccompProgram p = cache.prepare(profile);
    EXPECT_FALSE(cache.last_was_hit());
    ASSERT_EQ(p.insns.size(), good.insns.size());
    EXPECT_EQ(std::memcmp(p.insns.data(), good.insns.data(), p.insns.size() * sizeof(sock_filter)), 0);
    EXPECT_EQ(read_file(entry), original);  // rewritten
    cache.prepare(profile);
    EXPECT_TRUE(cache.last_was_hit());
  };
  corrupt_with("garbage");                                // too short
  corrupt_with(original.substr(0, original.size() - 3));  // not a whole instruction
  corrupt_with(original.substr(0, original.size() - 8));  // count in header disagrees
  std::string flipped = original;
  flipped.back() ^= 0x01;
  corrupt_with(flipped);  // checksum
  std::string bad_magic = original;
  bad_magic[0] = 'X';
  corrupt_with(bad_magic);
  EXPECT_EQ(cache.stats().corrupt, 5u);
}

TEST(SeccompCache, SharedWritableDirectoryIsNotTrusted) {
  TempDir dir;
  ASSERT_EQ(::chmod(dir.path.c_str(), 0777), 0);
  SeccompCache cache(dir.path);
  cache.prepare(deny_mkdir_profile());
  cache.prepare(deny_mkdir_profile());
  EXPECT_FALSE(cache.last_was_hit());
  EXPECT_EQ(cache.stats().hits, 0u);
  EXPECT_FALSE(path_exists(cache.entry_path(deny_mkdir_profile())));
}

TEST(SeccompCache, ParseErrorsStillThrow) {
  TempDir dir;
  json j = deny_mkdir_profile();
  j["syscalls"][0]["action"] = "SCMP_ACT_FOO";
  EXPECT_THROW(prepare_seccomp(j, dir.path), Error);
  EXPECT_THROW(prepare_seccomp(j, ""), Error);
}

}  // namespace
// A profile naming one syscall 30,000 times compiles to the program of one listing (libseccomp
// took 3 s on the duplicates), and a profile with more distinct rules than any real one is
// refused with a clear error instead of minutes of compiling.
TEST(SeccompCompile, DuplicatesCountOnceAndTheRuleCountIsBounded) {
  json one = {{"defaultAction", "SCMP_ACT_ERRNO"},
              {"syscalls", {{{"names", {"getpid"}}, {"action", "SCMP_ACT_ALLOW"}}}}};
  json many = one;
  many["syscalls"][0]["names"] = json::array();
  for (int i = 0; i < 30000; ++i) many["syscalls"][0]["names"].push_back("getpid");
  for (int i = 0; i < 100; ++i) many["syscalls"].push_back(one["syscalls"][0]);
  auto a = compile(one), b = compile(many);
  ASSERT_EQ(a.insns.size(), b.insns.size());
  EXPECT_EQ(std::memcmp(a.insns.data(), b.insns.data(), a.insns.size() * sizeof(sock_filter)), 0);
  json huge = {{"defaultAction", "SCMP_ACT_ALLOW"}, {"syscalls", json::array()}};
  for (int i = 0; i <= 4096; ++i)
    huge["syscalls"].push_back({{"names", {"kill"}},
                                {"action", "SCMP_ACT_ERRNO"},
                                {"args", {{{"index", 1}, {"value", i}, {"op", "SCMP_CMP_EQ"}}}}});
  try {
    compile(huge);
    ADD_FAILURE() << "4097 distinct rules compiled";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("distinct rules"), std::string::npos) << e.what();
  }
}

}  // namespace kiln::runtime
