#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "common/error.hpp"
#include "common/files.hpp"
#include "common/in_root.hpp"

using namespace kiln;
namespace fs = std::filesystem;

class InRoot : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kiln-inroot-XXXXXX";
    base_ = ::mkdtemp(tmpl);
    root_ = base_ + "/root";
    fs::create_directories(root_ + "/etc");
    write_file(base_ + "/outside", "host secret");
    write_file(root_ + "/etc/inside", "inside");
    root_fd_ = open_file(root_, O_PATH | O_DIRECTORY);
  }
  void TearDown() override { fs::remove_all(base_); }
  std::string base_, root_;
  UniqueFd root_fd_;
};

TEST_F(InRoot, DotDotIsClampedAtTheRoot) {
  auto fd = open_in_root(root_fd_.get(), "../../etc/inside", O_RDONLY);
  EXPECT_EQ(read_fd(fd.get()), "inside");
}

TEST_F(InRoot, AbsoluteSymlinkStaysInside) {
  fs::create_symlink("/outside", root_ + "/link");
  EXPECT_THROW(open_in_root(root_fd_.get(), "/link", O_RDONLY), Error);
  write_file(root_ + "/outside", "the root's own");
  auto fd = open_in_root(root_fd_.get(), "/link", O_RDONLY);
  EXPECT_EQ(read_fd(fd.get()), "the root's own");
}

TEST_F(InRoot, RelativeSymlinkClimbingOutStaysInside) {
  fs::create_symlink("../../../outside", root_ + "/etc/up");
  EXPECT_THROW(open_in_root(root_fd_.get(), "etc/up", O_RDONLY), Error);
}

TEST_F(InRoot, MkdirAllThroughSymlinkCreatesInside) {
  fs::create_symlink("/etc", root_ + "/e");
  auto fd = mkdir_all_in_root(root_fd_.get(), "/e/a/b");
  EXPECT_TRUE(fs::is_directory(root_ + "/etc/a/b"));
  EXPECT_EQ(fd_path(fd.get()), fs::canonical(root_ + "/etc/a/b").string());
}

TEST_F(InRoot, MkdirAllRefusesFileComponent) {
  EXPECT_THROW(mkdir_all_in_root(root_fd_.get(), "/etc/inside/x"), Error);
}

TEST_F(InRoot, ParentKeepsLastComponentUnresolved) {
  fs::create_symlink("/outside", root_ + "/etc/l");
  auto [dir, name] = open_parent_in_root(root_fd_.get(), "/etc/l", false);
  EXPECT_EQ(name, "l");
  EXPECT_EQ(fd_path(dir.get()), fs::canonical(root_ + "/etc").string());
  EXPECT_THROW(open_parent_in_root(root_fd_.get(), "/", false), Error);
}

// Mount destinations of kernel filesystems refuse every symlink on the way, with openat2 and
// with the hand walk alike.
TEST_F(InRoot, RefusedSymlinksAnywhereOnThePath) {
  fs::create_directories(root_ + "/sys/kernel");
  fs::create_symlink("sys/kernel/../../P", root_ + "/proc");
  fs::create_symlink("/etc", root_ + "/etc-link");
  for (bool fallback : {false, true}) {
    use_in_root_fallback(fallback);
    try {
      mkdir_all_in_root(root_fd_.get(), "/proc", 0755, Symlinks::refuse);
      ADD_FAILURE() << "a symlinked /proc was accepted (fallback " << fallback << ")";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ELOOP);
      EXPECT_NE(std::string(e.what()).find("symlink"), std::string::npos) << e.what();
    }
    EXPECT_THROW(open_in_root(root_fd_.get(), "/etc-link/inside", O_RDONLY, 0, Symlinks::refuse), Error);
    EXPECT_FALSE(fs::exists(root_ + "/P")) << "nothing may be created through the link";
    // Plain directories still resolve, and are created when missing.
    EXPECT_EQ(read_fd(open_in_root(root_fd_.get(), "/etc/inside", O_RDONLY, 0, Symlinks::refuse).get()), "inside");
    EXPECT_TRUE(mkdir_all_in_root(root_fd_.get(), "/new/dir", 0755, Symlinks::refuse));
    // The default still follows (inside the root).
    EXPECT_EQ(read_fd(open_in_root(root_fd_.get(), "/etc-link/inside", O_RDONLY).get()), "inside");
    fs::remove_all(root_ + "/new");
  }
  use_in_root_fallback(false);
}

// The fallback for kernels without openat2, tested for real: the whole InRoot suite runs again
// in a child whose seccomp filter makes openat2 fail with ENOSYS, as an old kernel would.
TEST_F(InRoot, FallbackReallyForced) {
  if (!std::getenv("KILN_TEST_NO_OPENAT2")) GTEST_SKIP() << "runs in the seccomp'd child only";
  errno = 0;
  EXPECT_EQ(::syscall(SYS_openat2, AT_FDCWD, "/", nullptr, 0), -1);
  EXPECT_EQ(errno, ENOSYS);
}

TEST(InRootFallback, SameEscapeCasesWithoutOpenat2) {
  if (std::getenv("KILN_TEST_NO_OPENAT2")) GTEST_SKIP() << "already the child";
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    struct sock_filter insns[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat2, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof insns / sizeof insns[0], insns};
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0)
      ::_exit(90);
    ::setenv("KILN_TEST_NO_OPENAT2", "1", 1);
    char filter[] = "--gtest_filter=InRoot.*";
    char* argv[] = {const_cast<char*>("unit_common"), filter, nullptr};
    ::execv("/proc/self/exe", argv);
    ::_exit(91);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the InRoot cases failed with the fallback resolver (see above)";
}
