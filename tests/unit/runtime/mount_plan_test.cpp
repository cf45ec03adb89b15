#include <gtest/gtest.h>
#include <sys/mount.h>

#include "runtime/default_spec.hpp"
#include "runtime/mount_options.hpp"
#include "runtime/mount_plan.hpp"

using namespace kiln::runtime;

TEST(MountOptions, FlagsPropagationAndData) {
  MountOptions o = parse_mount_options({"rbind", "ro", "nosuid", "rprivate", "mode=755", "size=1k"});
  EXPECT_EQ(o.flags, static_cast<unsigned long>(MS_BIND | MS_REC | MS_RDONLY | MS_NOSUID));
  EXPECT_EQ(o.propagation, static_cast<unsigned long>(MS_PRIVATE | MS_REC));
  EXPECT_EQ(o.data, "mode=755,size=1k");
  EXPECT_TRUE(o.bind());
  MountOptions rw = parse_mount_options({"ro", "rw", "tmpcopyup"});
  EXPECT_EQ(rw.flags & MS_RDONLY, 0ul);
  EXPECT_EQ(rw.data, "");
}

TEST(MountPlan, V1CgroupMountBecomesTmpfsWithReadOnlyBinds) {
  Spec spec = parse_spec(default_spec(), "/bundle");
  std::map<std::string, std::string> paths = {{"memory", "/sys/fs/cgroup/memory/kiln/c1"},
                                              {"name=systemd", "/sys/fs/cgroup/systemd/kiln/c1"},
                                              {"unified", "/sys/fs/cgroup/unified/kiln/c1"}};
  MountPlan plan = plan_mounts(spec, paths);
  // proc, dev, pts, shm, mqueue, sys, then cgroup: tmpfs + 3 binds + read-only remount.
  ASSERT_EQ(plan.size(), 6u + 5u);
  EXPECT_EQ(plan[6].fstype, "tmpfs");
  EXPECT_EQ(plan[6].destination, "/sys/fs/cgroup");
  EXPECT_EQ(plan[7].source, "/sys/fs/cgroup/memory/kiln/c1");
  EXPECT_EQ(plan[7].destination, "/sys/fs/cgroup/memory");
  EXPECT_TRUE(plan[7].bind);
  EXPECT_TRUE(plan[7].remount_flags & MS_RDONLY);
  EXPECT_EQ(plan[8].destination, "/sys/fs/cgroup/systemd");
  EXPECT_EQ(plan[9].destination, "/sys/fs/cgroup/unified");
  EXPECT_TRUE(plan[10].flags & MS_REMOUNT);
  EXPECT_TRUE(plan[10].remount_flags & MS_RDONLY);
}

TEST(MountPlan, V2WithCgroupNamespaceMountsCgroup2) {
  nlohmann::json c = default_spec();
  c["linux"]["namespaces"].push_back({{"type", "cgroup"}});
  Spec spec = parse_spec(c, "/bundle");
  MountPlan plan = plan_mounts(spec, {{"unified", "/sys/fs/cgroup/kiln/c1"}});
  ASSERT_EQ(plan.size(), 7u);
  EXPECT_EQ(plan[6].fstype, "cgroup2");
}

TEST(MountPlan, RelativeBindSourceIsTakenFromTheBundle) {
  nlohmann::json c = default_spec();
  c["mounts"] = {{{"destination", "/data"}, {"type", "bind"}, {"source", "data"}, {"options", {"rbind", "ro"}}}};
  MountPlan plan = plan_mounts(parse_spec(c, "/bundle"), {});
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0].source, "/bundle/data");
  EXPECT_EQ(plan[0].flags, static_cast<unsigned long>(MS_BIND | MS_REC));
  EXPECT_EQ(plan[0].remount_flags, static_cast<unsigned long>(MS_RDONLY));
  EXPECT_EQ(plan[0].describe(), "bind /bundle/data on /data");
}

TEST(MountPlan, WithoutACgroupTheCgroupMountIsAnEmptyReadOnlyTmpfs) {
  nlohmann::json c = default_spec();
  c["mounts"] = {{{"destination", "/sys/fs/cgroup"}, {"type", "cgroup"}, {"source", "cgroup"}, {"options", {"ro"}}}};
  MountPlan plan = plan_mounts(parse_spec(c, "/bundle"), {});
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0].fstype, "tmpfs");
  EXPECT_EQ(plan[0].destination, "/sys/fs/cgroup");
  EXPECT_TRUE(plan[0].flags & MS_RDONLY);
}
