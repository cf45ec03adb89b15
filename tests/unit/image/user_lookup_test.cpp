#include "image/user_lookup.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "common/error.hpp"
#include "common/files.hpp"

using namespace kiln;
using namespace kiln::image;

TEST(UserLookup, NamesNumbersAndGroups) {
  char t[] = "/tmp/kiln-user-test.XXXXXX";
  std::string root = ::mkdtemp(t);
  mkdir_p(root + "/etc");
  write_file(root + "/etc/passwd", "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home:/bin/sh\n");
  write_file(root + "/etc/group", "root:x:0:\napp:x:1001:\nextra:x:2000:app,other\n");
  UniqueFd fd = open_file(root, O_PATH | O_DIRECTORY);
  auto u = resolve_user(fd.get(), "app");
  EXPECT_EQ(u.uid, 1000u);
  EXPECT_EQ(u.gid, 1001u);
  EXPECT_EQ(u.additional_gids, std::vector<gid_t>{2000});
  u = resolve_user(fd.get(), "app:extra");
  EXPECT_EQ(u.gid, 2000u);
  u = resolve_user(fd.get(), "4242:7");
  EXPECT_EQ(u.uid, 4242u);
  EXPECT_EQ(u.gid, 7u);
  EXPECT_EQ(resolve_user(fd.get(), "").uid, 0u);
  EXPECT_THROW(resolve_user(fd.get(), "nobody"), Error);
  EXPECT_THROW(resolve_user(fd.get(), "app:nogroup"), Error);
  remove_tree(root);
}
