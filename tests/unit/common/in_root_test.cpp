#include <fcntl.h>
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
