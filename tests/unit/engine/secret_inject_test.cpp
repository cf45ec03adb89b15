// Secret injection: the detached tmpfs (content, owner, mode, flags, read-only, not in the
// host's mount table) and env entries in the in-memory spec. Needs root (fsopen).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/mount.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>

#include "common/error.hpp"
#include "common/files.hpp"
#include "engine/secret_inject.hpp"

using namespace kiln;
using namespace kiln::engine;

namespace {

struct TempRoot {
  std::string dir;
  TempRoot() {
    char t[] = "/tmp/kiln-inject-test.XXXXXX";
    dir = ::mkdtemp(t);
  }
  ~TempRoot() { remove_tree(dir); }
};

size_t mount_count() {
  std::string m = read_file("/proc/self/mountinfo");
  return static_cast<size_t>(std::count(m.begin(), m.end(), '\n'));
}

}  // namespace

TEST(SecretTmpfs, DetachedFilesOwnerModeFlags) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  size_t before = mount_count();
  std::string v1("s3cr\0t", 6);
  SecretMount m = make_secret_tmpfs({{"one", v1, 0400, 1000, 2000}, {"two", "x", 0440, 0, 0}});
  EXPECT_EQ(mount_count(), before) << "a detached mount must not appear in the mount table";

  UniqueFd one(::openat(m.fd(), "one", O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(one);
  EXPECT_EQ(read_fd(one.get()), v1);
  struct stat st {};
  ASSERT_EQ(::fstat(one.get(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0400u);
  EXPECT_EQ(st.st_uid, 1000u);
  EXPECT_EQ(st.st_gid, 2000u);
  ASSERT_EQ(::fstatat(m.fd(), "two", &st, 0), 0);
  EXPECT_EQ(st.st_mode & 07777, 0440u);
  ASSERT_EQ(::fstat(m.fd(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);

  struct statvfs vfs {};
  ASSERT_EQ(::fstatvfs(m.fd(), &vfs), 0);
  EXPECT_TRUE(vfs.f_flag & ST_RDONLY);
  EXPECT_TRUE(vfs.f_flag & ST_NOSUID);
  EXPECT_TRUE(vfs.f_flag & ST_NODEV);
  EXPECT_TRUE(vfs.f_flag & ST_NOEXEC);
  EXPECT_LT(::openat(m.fd(), "new", O_WRONLY | O_CREAT | O_CLOEXEC, 0600), 0);
  EXPECT_EQ(errno, EROFS);
}

// What the container's init does with the fd: move_mount() it onto a directory inside its own
// mount namespace. The target is given as a dir fd with MOVE_MOUNT_T_EMPTY_PATH: a
// "/proc/self/fd/N" path as the target fails with EINVAL on this kernel (6.x).
TEST(SecretTmpfs, AttachesOnlyInsideAnotherMountNamespace) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  TempRoot dir;
  SecretMount m = make_secret_tmpfs({{"s", "value-in-ns", 0400, 0, 0}});
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::unshare(CLONE_NEWNS) != 0) ::_exit(10);
    if (::syscall(SYS_mount, "none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) ::_exit(11);
    int target = ::open(dir.dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (target < 0) ::_exit(12);
    if (::syscall(SYS_move_mount, m.fd(), "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
      ::_exit(13);
    try {
      ::_exit(read_file(dir.dir + "/s") == "value-in-ns" ? 0 : 14);
    } catch (...) {
      ::_exit(15);
    }
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(read_file("/proc/self/mountinfo").find(dir.dir), std::string::npos);
  EXPECT_FALSE(path_exists(dir.dir + "/s"));
}

TEST(PrepareSecrets, UnknownNameFailsFirst) {
  TempRoot root;
  SecretStore store(root.dir);
  store.create("known", "v");
  try {
    prepare_secrets(store, parse_secret_requests({"known,type=env", "missing"}), {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "secret missing not found");
  }
}

TEST(PrepareSecrets, EnvAndMount) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  TempRoot root;
  SecretStore store(root.dir);
  store.create("db", "pw-db");
  store.create("api", "tok");
  auto p = prepare_secrets(
      store, parse_secret_requests({"db", "api,type=env,target=API_TOKEN", "db,target=copy,uid=7"}), {1000, 1001});
  ASSERT_EQ(p.env.size(), 1u);
  EXPECT_EQ(p.env[0].view(), "API_TOKEN=tok");
  ASSERT_TRUE(p.mount);
  EXPECT_EQ(p.mount->detached().destination, "/run/secrets");
  struct stat st {};
  ASSERT_EQ(::fstatat(p.mount->fd(), "db", &st, 0), 0);
  EXPECT_EQ(st.st_uid, 1000u);
  EXPECT_EQ(st.st_gid, 1001u);
  ASSERT_EQ(::fstatat(p.mount->fd(), "copy", &st, 0), 0);
  EXPECT_EQ(st.st_uid, 7u);
  EXPECT_FALSE(path_exists(root.dir + "/secrets/values/copy"));

  nlohmann::json cfg = {{"process", {{"env", {"PATH=/bin", "API_TOKEN=from-image"}}}}};
  apply_env_secrets(cfg, p);
  EXPECT_EQ(cfg["process"]["env"].dump(), R"(["PATH=/bin","API_TOKEN=tok"])");
  wipe_process_env(cfg);
  EXPECT_EQ(cfg["process"]["env"][1].get<std::string>(), std::string(13, '\0'));
}

TEST(PrepareSecrets, EnvOnlyMakesNoMount) {
  TempRoot root;
  SecretStore store(root.dir);
  store.create("t", "v");
  auto p = prepare_secrets(store, parse_secret_requests({"t,type=env"}), {});
  EXPECT_FALSE(p.mount);
  ASSERT_EQ(p.env.size(), 1u);
}

// A process holding an env secret must not leave a core file (with the value) in its upper dir.
TEST(PrepareSecrets, EnvSecretsTurnCoreDumpsOffUnlessAsked) {
  TempRoot root;
  SecretStore store(root.dir);
  store.create("t", "v");
  auto p = prepare_secrets(store, parse_secret_requests({"t,type=env"}), {});
  nlohmann::json cfg = {
      {"process", {{"env", {"PATH=/bin"}}, {"rlimits", {{{"type", "RLIMIT_NOFILE"}, {"hard", 9}, {"soft", 9}}}}}}};
  apply_env_secrets(cfg, p);
  EXPECT_EQ(cfg["process"]["rlimits"].dump(),
            R"([{"hard":9,"soft":9,"type":"RLIMIT_NOFILE"},{"hard":0,"soft":0,"type":"RLIMIT_CORE"}])");
  nlohmann::json asked = {{"process", {{"rlimits", {{{"type", "RLIMIT_CORE"}, {"hard", 100}, {"soft", 50}}}}}}};
  apply_env_secrets(asked, p);
  EXPECT_EQ(asked["process"]["rlimits"].size(), 1u);
  EXPECT_EQ(asked["process"]["rlimits"][0]["soft"], 50);
  // No env secret (a mount only, or none): nothing changes.
  nlohmann::json plain = {{"process", {{"env", {"PATH=/bin"}}}}};
  apply_env_secrets(plain, PreparedSecrets{});
  EXPECT_FALSE(plain["process"].contains("rlimits"));
}

TEST(SetProcessEnv, AddsAndReplaces) {
  nlohmann::json cfg = nlohmann::json::object();
  set_process_env(cfg, "A=1");
  set_process_env(cfg, "AB=2");
  set_process_env(cfg, "A=3");
  EXPECT_EQ(cfg["process"]["env"].dump(), R"(["A=3","AB=2"])");
  EXPECT_THROW(set_process_env(cfg, "novalue"), Error);
}
