#include <gtest/gtest.h>

#include "common/error.hpp"
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
