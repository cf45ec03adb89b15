#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "cgroups/cgroup_path.hpp"
#include "cgroups/layout.hpp"
#include "cgroups/manager.hpp"
#include "common/error.hpp"

using namespace kiln::cgroups;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/cgtest-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

void touch(const std::string& p, const std::string& content = "") { std::ofstream(p) << content; }

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const kiln::Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(CgroupPath, DefaultAbsoluteRelative) {
  auto d = resolve_cgroups_path("", "web1");
  EXPECT_EQ(d.path, "kiln/web1");
  EXPECT_FALSE(d.relative);
  auto a = resolve_cgroups_path("/machine.slice//ctr/./x/", "id");
  EXPECT_EQ(a.path, "machine.slice/ctr/x");
  EXPECT_FALSE(a.relative);
  auto r = resolve_cgroups_path("sub/ctr", "id");
  EXPECT_EQ(r.path, "sub/ctr");
  EXPECT_TRUE(r.relative);
  EXPECT_EQ(resolve_cgroups_path("/a/../b", "id").path, "b");
  EXPECT_EQ(join_cgroup_path("/user.slice/x", "ctr"), "user.slice/x/ctr");
}

TEST(CgroupPath, RefusesEscapes) {
  EXPECT_EQ(error_of([] { resolve_cgroups_path("../..", "id"); }),
            "linux.cgroupsPath \"../..\": escapes the cgroup root");
  EXPECT_EQ(error_of([] { resolve_cgroups_path("/a/../../etc", "id"); }),
            "linux.cgroupsPath \"/a/../../etc\": escapes the cgroup root");
  EXPECT_EQ(error_of([] { resolve_cgroups_path("/", "id"); }), "linux.cgroupsPath \"/\": is the cgroup root");
  EXPECT_THROW(resolve_cgroups_path("", "../x"), kiln::Error);
  EXPECT_EQ(error_of([] {
              make_manager("../..", "id", {"/sys/fs/cgroup", Layout::v2});
            }),
            "linux.cgroupsPath \"../..\": escapes the cgroup root");
}

TEST(CgroupPath, OwnCgroupsParsesProcSelf) {
  auto own = own_cgroups();
  EXPECT_TRUE(own.count("memory") || own.count(""));
}

TEST(Layout, DetectsThisHost) {
  // What the mounts say, worked out independently of detect_layout: cgroup2 at the top is
  // unified; v1 controllers with a cgroup2 at unified/ is hybrid; v1 controllers alone are v1.
  Layout want = fs::exists("/sys/fs/cgroup/cgroup.controllers")           ? Layout::v2
                : fs::exists("/sys/fs/cgroup/unified/cgroup.controllers") ? Layout::hybrid
                                                                          : Layout::v1;
  EXPECT_EQ(detect_layout("/sys/fs/cgroup"), want);
}

TEST(Layout, DetectsFakeTrees) {
  TempDir v2;
  touch(v2.path + "/cgroup.controllers", "cpu memory\n");
  EXPECT_EQ(detect_layout(v2.path), Layout::v2);

  TempDir v1;
  for (const char* d : {"cpu,cpuacct", "memory", "systemd", "pids"}) fs::create_directories(v1.path + "/" + d);
  fs::create_directory_symlink("cpu,cpuacct", v1.path + "/cpu");
  EXPECT_EQ(detect_layout(v1.path), Layout::v1);
  auto h = v1_hierarchies(v1.path);
  ASSERT_EQ(h.size(), 4u);
  EXPECT_EQ(h[0].mount, v1.path + "/cpu,cpuacct");
  EXPECT_EQ(h[0].controllers, (std::vector<std::string>{"cpu", "cpuacct"}));
  EXPECT_EQ(h[3].controllers, (std::vector<std::string>{"name=systemd"}));

  fs::create_directories(v1.path + "/unified");
  touch(v1.path + "/unified/cgroup.controllers", "hugetlb\n");
  EXPECT_EQ(detect_layout(v1.path), Layout::hybrid);
  EXPECT_EQ(v1_hierarchies(v1.path).size(), 4u);  // "unified" is not a v1 hierarchy
}

TEST(Layout, FakeV1ManagerPaths) {
  TempDir v1;
  for (const char* d : {"cpu,cpuacct", "memory", "systemd"}) fs::create_directories(v1.path + "/" + d);
  auto m = make_manager("", "c1", {v1.path, Layout::v1});
  auto p = m->paths();
  EXPECT_EQ(p.at("cpu"), v1.path + "/cpu,cpuacct/kiln/c1");
  EXPECT_EQ(p.at("cpuacct"), v1.path + "/cpu,cpuacct/kiln/c1");
  EXPECT_EQ(p.at("name=systemd"), v1.path + "/systemd/kiln/c1");
  m->create();
  EXPECT_TRUE(fs::is_directory(v1.path + "/memory/kiln/c1"));
  // Missing controller: one error naming the setting and the controller.
  Resources r;
  r.pids.limit = 5;
  EXPECT_EQ(error_of([&] { m->update(r); }),
            "set linux.resources.pids.limit: the pids controller is not mounted under " + v1.path);
  m->destroy();
  EXPECT_FALSE(fs::exists(v1.path + "/memory/kiln/c1"));
  EXPECT_TRUE(fs::exists(v1.path + "/memory/kiln"));  // kiln's parent stays, like runc's
  EXPECT_TRUE(fs::exists(v1.path + "/memory"));
}
