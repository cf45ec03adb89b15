#include <gtest/gtest.h>
#include <sched.h>

#include "runtime/namespace_plan.hpp"

using namespace kiln::runtime;

namespace {
Linux with(std::vector<std::pair<std::string, std::string>> nss) {
  Linux l;
  for (auto& [type, path] : nss) l.namespaces.push_back({type, namespace_clone_flag(type), path});
  return l;
}
}  // namespace

TEST(NamespacePlan, NewOnesByCloneExceptCgroupAndTime) {
  auto p = plan_namespaces(with({{"pid", ""}, {"mount", ""}, {"network", ""}, {"cgroup", ""}, {"time", ""}}));
  EXPECT_EQ(p.clone_flags, static_cast<uint64_t>(CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET));
  EXPECT_TRUE(p.new_cgroup);
  EXPECT_TRUE(p.new_time);
  EXPECT_TRUE(p.joins.empty());
  EXPECT_EQ(p.unshare_after_user_join, 0);
}

TEST(NamespacePlan, JoinedUserFirstThenTheRestCreatedUnderIt) {
  auto p = plan_namespaces(
      with({{"network", "/proc/9/ns/net"}, {"ipc", ""}, {"mount", ""}, {"user", "/proc/9/ns/user"}, {"pid", "/x"}}));
  ASSERT_EQ(p.joins.size(), 2u);
  EXPECT_EQ(p.joins[0].type, "user");
  EXPECT_EQ(p.joins[1].type, "network");
  EXPECT_TRUE(p.joins_user);
  // Nothing for clone: ipc and mount are created after the user join, pid is joined before.
  EXPECT_EQ(p.clone_flags, 0u);
  EXPECT_EQ(p.unshare_after_user_join, CLONE_NEWIPC | CLONE_NEWNS);
  EXPECT_EQ(p.pid_path, "/x");
}
