// delegated_subtree (cgroups/delegation.hpp) on a fake cgroup2 tree: the highest directory a
// user owns together with its cgroup.procs and cgroup.subtree_control, up from its own cgroup.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "cgroups/delegation.hpp"

using kiln::cgroups::delegated_subtree;

namespace {

constexpr uid_t kUser = 4242;

class Delegation : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kiln-deleg-XXXXXX";
    root_ = ::mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  // A cgroup dir with its files; owned by uid (files only when files_too).
  void cgroup(const std::string& rel, uid_t uid, bool files_too = true) {
    std::string d = root_ + rel;
    std::filesystem::create_directories(d);
    for (const char* f : {"/cgroup.procs", "/cgroup.subtree_control", "/cgroup.threads"}) {
      std::ofstream(d + f).close();
      if (files_too) {
        ASSERT_EQ(::chown((d + f).c_str(), uid, uid), 0);
      }
    }
    ASSERT_EQ(::chown(d.c_str(), uid, uid), 0);
  }
  std::string root_;
};

TEST_F(Delegation, SystemdUserServiceLayout) {
  cgroup("/user.slice", 0);
  cgroup("/user.slice/user-4242.slice", 0);
  cgroup("/user.slice/user-4242.slice/user@4242.service", kUser);
  cgroup("/user.slice/user-4242.slice/user@4242.service/app.slice", kUser);
  cgroup("/user.slice/user-4242.slice/user@4242.service/app.slice/term.scope", kUser, false);
  auto d = delegated_subtree(root_, "/user.slice/user-4242.slice/user@4242.service/app.slice/term.scope", kUser);
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, "/user.slice/user-4242.slice/user@4242.service");
}

TEST_F(Delegation, NotDelegated) {
  cgroup("/user.slice", 0);
  cgroup("/user.slice/session-3.scope", 0);
  EXPECT_FALSE(delegated_subtree(root_, "/user.slice/session-3.scope", kUser));
  // Owned dir but the files still root's: not a delegation.
  cgroup("/half", kUser, false);
  EXPECT_FALSE(delegated_subtree(root_, "/half", kUser));
  // Another user's delegation.
  cgroup("/other", 777);
  EXPECT_FALSE(delegated_subtree(root_, "/other", kUser));
}

TEST_F(Delegation, HostileOwnPaths) {
  cgroup("/d", kUser);
  EXPECT_FALSE(delegated_subtree(root_, "/", kUser));
  EXPECT_FALSE(delegated_subtree(root_, "", kUser));
  EXPECT_FALSE(delegated_subtree(root_, "relative/d", kUser));
  EXPECT_FALSE(delegated_subtree(root_, "/d/../..", kUser));
  ASSERT_TRUE(delegated_subtree(root_, "/d/", kUser));
  EXPECT_EQ(*delegated_subtree(root_, "/d/", kUser), "/d");
}

}  // namespace
