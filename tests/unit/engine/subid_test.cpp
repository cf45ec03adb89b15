// /etc/subuid and /etc/subgid (engine/rootless_session.hpp): a user's range, and another
// user's range that overlaps it (both users' containers would share host ids).
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "engine/rootless_session.hpp"

using namespace kiln::engine;

namespace {

std::string write_subid(const std::string& text) {
  char tmpl[] = "/tmp/kiln-subid-XXXXXX";
  int fd = ::mkstemp(tmpl);
  ::close(fd);
  std::ofstream(tmpl) << text;
  return tmpl;
}

TEST(SubId, RangeByNameOrUidAndHostileLines) {
  std::string f = write_subid("broken\nalice:x:10\nbob:100000:0\nalice:100000:65536\n1001:300000:10\n");
  auto a = subordinate_range(f, "alice", 1000);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->start, 100000u);
  EXPECT_EQ(a->count, 65536u);
  EXPECT_FALSE(subordinate_range(f, "bob", 1002));  // count 0
  auto c = subordinate_range(f, "carol", 1001);     // by uid
  ASSERT_TRUE(c);
  EXPECT_EQ(c->start, 300000u);
  std::string huge = write_subid("dave:4294967295:2\n");  // past 2^32
  EXPECT_FALSE(subordinate_range(huge, "dave", 1003));
  ::unlink(f.c_str());
  ::unlink(huge.c_str());
}

TEST(SubId, OverlapWithAnotherUser) {
  std::string f = write_subid("alice:100000:65536\nbob:165536:65536\neve:150000:10\nalice:500000:5\n");
  EXPECT_EQ(overlapping_range(f, "alice", 1000, {100000, 65536}), "eve's 150000-150009");
  EXPECT_EQ(overlapping_range(f, "bob", 1001, {165536, 65536}), std::nullopt);  // adjacent is fine
  EXPECT_EQ(overlapping_range(f, "eve", 1002, {150000, 10}), "alice's 100000-165535");
  ::unlink(f.c_str());
}

}  // namespace
