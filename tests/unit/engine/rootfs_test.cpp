#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "common/error.hpp"
#include "common/user_namespace.hpp"
#include "engine/rootfs.hpp"

using namespace kiln::engine;

TEST(RootfsPlan, InitLayerOnTopThenTheImageTopmostFirst) {
  auto p = plan_rootfs({"/l/bottom", "/l/top"}, "/s/.init", "/c", false, "/c/empty");
  EXPECT_EQ(p.overlay_options(), "lowerdir=/s/.init:/l/top:/l/bottom,upperdir=/c/upper,workdir=/c/work");
  EXPECT_EQ(p.target, "/c/merged");
  // Read-only: no upper; one layer still makes two lower dirs with the init layer.
  auto ro = plan_rootfs({"/l/only"}, "/s/.init", "/c", true, "/c/empty");
  EXPECT_EQ(ro.overlay_options(), "lowerdir=/s/.init:/l/only");
  // No layers at all: the empty dir stands in.
  EXPECT_EQ(plan_rootfs({}, "/s/.init", "/c", true, "/c/empty").overlay_options(), "lowerdir=/s/.init:/c/empty");
  EXPECT_THROW(plan_rootfs({"/l/a:b"}, "/s/.init", "/c", true, "").overlay_options(), kiln::Error);
}

// An opaque mark on a layer's root hides the layers below it (OCI); overlayfs would ignore it
// on a lower dir, so the plan leaves those layers out.
TEST(RootfsPlan, LayersBelowAnOpaqueLayerRootAreLeftOut) {
  char tmpl[] = "/tmp/kiln-rootfs-plan-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string d = tmpl;
  for (const char* l : {"/bottom", "/middle", "/top"}) ASSERT_EQ(::mkdir((d + l).c_str(), 0755), 0);
  const char* key = kiln::in_initial_user_namespace() ? "trusted.overlay.opaque" : "user.overlay.opaque";
  auto plan = [&] { return plan_rootfs({d + "/bottom", d + "/middle", d + "/top"}, "/s/.init", "/c", true, "/e"); };
  EXPECT_EQ(plan().lower_dirs.size(), 4u);
  ASSERT_EQ(::setxattr((d + "/middle").c_str(), key, "y", 1, 0), 0) << std::strerror(errno);
  EXPECT_EQ(plan().lower_dirs, (std::vector<std::string>{"/s/.init", d + "/top", d + "/middle"}));
  ASSERT_EQ(::setxattr((d + "/top").c_str(), key, "n", 1, 0), 0);  // only "y" counts
  EXPECT_EQ(plan().lower_dirs.size(), 3u);
  for (const char* l : {"/bottom", "/middle", "/top"}) ::rmdir((d + l).c_str());
  ::rmdir(d.c_str());
}
