// The flattening copy of stored layer dirs (kiln unpack): overlay merge rules, metadata, and
// a hostile lower-layer symlink. Layer dirs are made here by hand in overlay format, as the
// store holds them (0/0 character devices, trusted.overlay.opaque=y).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "common/files.hpp"
#include "image/layer_flatten_copy.hpp"

using namespace kiln;
using namespace kiln::image;

namespace {

struct Layers {
  std::string path;
  size_t count;
  explicit Layers(size_t n) : count(n) {
    char t[] = "/tmp/kiln-flatten-test.XXXXXX";
    path = ::mkdtemp(t);
    for (size_t i = 0; i < n; ++i) mkdir_p(layer(i));
    mkdir_p(out());
    mkdir_p(outside());
  }
  ~Layers() { remove_tree(path); }
  std::string layer(size_t i) const { return path + "/l" + std::to_string(i); }  // 0 = lowest
  std::string out() const { return path + "/out"; }
  std::string outside() const { return path + "/outside"; }
  void copy(size_t threads = 0) const {
    std::vector<std::string> dirs;
    for (size_t i = 0; i < count; ++i) dirs.push_back(layer(i));
    UniqueFd dest = open_file(out(), O_PATH | O_DIRECTORY);
    flatten_copy_layers(dirs, dest.get(), FlattenCopyOptions{threads});
  }
};

bool root() { return ::geteuid() == 0; }
bool exists(const std::string& p) {
  struct stat st;
  return ::lstat(p.c_str(), &st) == 0;
}
struct stat lstat_of(const std::string& p) {
  struct stat st {};
  EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
  return st;
}
void whiteout(const std::string& p) { ASSERT_EQ(::mknod(p.c_str(), S_IFCHR | 0, ::makedev(0, 0)), 0) << p; }
void opaque(const std::string& dir) {
  ASSERT_EQ(::setxattr(dir.c_str(), "trusted.overlay.opaque", "y", 1, 0), 0) << dir;
}
std::set<std::string> xattr_names(const std::string& p) {
  char buf[4096];
  ssize_t n = ::llistxattr(p.c_str(), buf, sizeof buf);
  std::set<std::string> out;
  for (ssize_t at = 0; at < n; at += static_cast<ssize_t>(std::strlen(buf + at)) + 1) out.insert(buf + at);
  return out;
}

// Every path under dir with its type, mode, owner, size and inode group, for comparing trees.
std::vector<std::string> listing(const std::string& dir) {
  std::vector<std::string> out;
  std::map<ino_t, std::string> first;
  std::vector<std::filesystem::path> paths;
  for (auto& e : std::filesystem::recursive_directory_iterator(dir)) paths.push_back(e.path());
  std::sort(paths.begin(), paths.end());
  for (auto& p : paths) {
    struct stat st = lstat_of(p);
    std::string rel = std::filesystem::relative(p, dir);
    std::string group;
    if (S_ISREG(st.st_mode) && st.st_nlink > 1) group = first.try_emplace(st.st_ino, rel).first->second;
    out.push_back(rel + " " + std::to_string(st.st_mode) + " " + std::to_string(st.st_uid) + " " +
                  std::to_string(st.st_size) + " " + std::to_string(st.st_mtime) + " " + group);
  }
  return out;
}

}  // namespace

TEST(FlattenCopy, WhiteoutHidesLowerFile) {
  if (!root()) GTEST_SKIP() << "needs root (mknod)";
  Layers t(2);
  write_file(t.layer(0) + "/gone", "lower");
  write_file(t.layer(0) + "/kept", "lower");
  whiteout(t.layer(1) + "/gone");
  t.copy();
  EXPECT_FALSE(exists(t.out() + "/gone"));
  EXPECT_EQ(read_file(t.out() + "/kept"), "lower");
}

TEST(FlattenCopy, WhiteoutOfLowerDirHidesItsContent) {
  if (!root()) GTEST_SKIP() << "needs root (mknod)";
  Layers t(3);
  mkdir_p(t.layer(0) + "/d");
  write_file(t.layer(0) + "/d/x", "x");
  whiteout(t.layer(1) + "/d");
  mkdir_p(t.layer(2) + "/d");  // made again above the whiteout: only its own content
  write_file(t.layer(2) + "/d/y", "y");
  t.copy();
  EXPECT_FALSE(exists(t.out() + "/d/x"));
  EXPECT_EQ(read_file(t.out() + "/d/y"), "y");
}

TEST(FlattenCopy, OpaqueDirHidesLowerEntriesButKeepsItsOwn) {
  if (!root()) GTEST_SKIP() << "needs root (trusted.* xattrs)";
  Layers t(3);
  mkdir_p(t.layer(0) + "/d/sub");
  write_file(t.layer(0) + "/d/old", "old");
  write_file(t.layer(0) + "/d/sub/deep", "deep");
  mkdir_p(t.layer(1) + "/d");
  write_file(t.layer(1) + "/d/mid", "mid");
  opaque(t.layer(1) + "/d");
  mkdir_p(t.layer(2) + "/d");  // a plain dir above the opaque one merges with it
  write_file(t.layer(2) + "/d/top", "top");
  t.copy();
  EXPECT_FALSE(exists(t.out() + "/d/old"));
  EXPECT_FALSE(exists(t.out() + "/d/sub"));
  EXPECT_EQ(read_file(t.out() + "/d/mid"), "mid");
  EXPECT_EQ(read_file(t.out() + "/d/top"), "top");
}

TEST(FlattenCopy, OpaqueLayerRootHidesLowerLayers) {
  if (!root()) GTEST_SKIP() << "needs root (trusted.* xattrs)";
  Layers t(2);
  write_file(t.layer(0) + "/old", "old");
  write_file(t.layer(1) + "/new", "new");
  opaque(t.layer(1));
  t.copy();
  EXPECT_FALSE(exists(t.out() + "/old"));
  EXPECT_EQ(read_file(t.out() + "/new"), "new");
  EXPECT_TRUE(xattr_names(t.out()).empty());
}

TEST(FlattenCopy, UpperDirOverLowerSymlinkOutsideIsARealDir) {
  Layers t(3);
  mkdir_p(t.layer(0) + "/a");  // below the symlink: hidden by it
  write_file(t.layer(0) + "/a/below", "below");
  ASSERT_EQ(::symlink(t.outside().c_str(), (t.layer(1) + "/a").c_str()), 0);
  mkdir_p(t.layer(2) + "/a/sub");
  write_file(t.layer(2) + "/a/pwned", "pwned");
  write_file(t.layer(2) + "/a/sub/deeper", "pwned");
  t.copy();
  struct stat st = lstat_of(t.out() + "/a");
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(read_file(t.out() + "/a/pwned"), "pwned");
  EXPECT_EQ(read_file(t.out() + "/a/sub/deeper"), "pwned");
  EXPECT_FALSE(exists(t.out() + "/a/below"));
  EXPECT_TRUE(std::filesystem::is_empty(t.outside()));
}

TEST(FlattenCopy, SymlinkIsCopiedNotFollowed) {
  Layers t(1);
  ASSERT_EQ(::symlink(t.outside().c_str(), (t.layer(0) + "/out-link").c_str()), 0);
  write_file(t.outside() + "/secret", "host");
  t.copy();
  struct stat st = lstat_of(t.out() + "/out-link");
  ASSERT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_EQ(std::filesystem::read_symlink(t.out() + "/out-link"), t.outside());
}

TEST(FlattenCopy, UpperFileOverLowerDir) {
  Layers t(2);
  mkdir_p(t.layer(0) + "/p/q");
  write_file(t.layer(0) + "/p/q/child", "child");
  write_file(t.layer(1) + "/p", "now a file");
  t.copy();
  struct stat st = lstat_of(t.out() + "/p");
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(read_file(t.out() + "/p"), "now a file");
}

TEST(FlattenCopy, HardlinksInsideALayerStayLinked) {
  for (size_t threads : {1, 2}) {
    Layers t(2);
    mkdir_p(t.layer(0) + "/x/y");
    mkdir_p(t.layer(0) + "/z");
    write_file(t.layer(0) + "/x/a", "shared");
    ASSERT_EQ(::link((t.layer(0) + "/x/a").c_str(), (t.layer(0) + "/x/y/b").c_str()), 0);
    ASSERT_EQ(::link((t.layer(0) + "/x/a").c_str(), (t.layer(0) + "/z/c").c_str()), 0);
    write_file(t.layer(0) + "/pair1", "pair");
    ASSERT_EQ(::link((t.layer(0) + "/pair1").c_str(), (t.layer(0) + "/pair2").c_str()), 0);
    write_file(t.layer(1) + "/pair2", "replaced");  // an upper file hides one name of the pair
    t.copy(threads);
    struct stat a = lstat_of(t.out() + "/x/a"), b = lstat_of(t.out() + "/x/y/b"), c = lstat_of(t.out() + "/z/c");
    EXPECT_EQ(a.st_ino, b.st_ino) << threads;
    EXPECT_EQ(a.st_ino, c.st_ino) << threads;
    EXPECT_EQ(a.st_nlink, 3u) << threads;
    EXPECT_EQ(read_file(t.out() + "/z/c"), "shared");
    EXPECT_EQ(lstat_of(t.out() + "/pair1").st_nlink, 1u) << threads;
    EXPECT_EQ(read_file(t.out() + "/pair2"), "replaced");
  }
}

TEST(FlattenCopy, SetuidOwnerTimesAndFileCapabilityKept) {
  if (!root()) GTEST_SKIP() << "needs root (chown, security.capability)";
  Layers t(1);
  std::string f = t.layer(0) + "/ping";
  write_file(f, "#!/bin/true\n");
  ASSERT_EQ(::chown(f.c_str(), 1234, 5678), 0);
  ASSERT_EQ(::chmod(f.c_str(), 04755), 0);
  // VFS_CAP_REVISION_2, effective; permitted = CAP_NET_RAW (13).
  const uint32_t cap[5] = {0x02000001, 1u << 13, 0, 0, 0};
  ASSERT_EQ(::setxattr(f.c_str(), "security.capability", cap, sizeof cap, 0), 0);
  struct timespec ts[2] = {{1000000000, 0}, {1200000000, 5}};
  ASSERT_EQ(::utimensat(AT_FDCWD, f.c_str(), ts, 0), 0);
  mkdir_p(t.layer(0) + "/sgid");
  write_file(t.layer(0) + "/sgid/inside", "x");
  ASSERT_EQ(::chmod((t.layer(0) + "/sgid").c_str(), 02775), 0);
  ASSERT_EQ(::utimensat(AT_FDCWD, (t.layer(0) + "/sgid").c_str(), ts, 0), 0);
  t.copy();
  struct stat st = lstat_of(t.out() + "/ping");
  EXPECT_EQ(st.st_mode & 07777, 04755u);
  EXPECT_EQ(st.st_uid, 1234u);
  EXPECT_EQ(st.st_gid, 5678u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1200000000);
  EXPECT_EQ(st.st_mtim.tv_nsec, 5);
  uint32_t got[5] = {};
  ASSERT_EQ(::getxattr((t.out() + "/ping").c_str(), "security.capability", got, sizeof got),
            static_cast<ssize_t>(sizeof got));
  EXPECT_EQ(std::vector<uint32_t>(got, got + 5), std::vector<uint32_t>(cap, cap + 5));
  struct stat d = lstat_of(t.out() + "/sgid");
  EXPECT_EQ(d.st_mode & 07777, 02775u);
  EXPECT_EQ(d.st_mtim.tv_sec, 1200000000);  // set after its content was written
}

TEST(FlattenCopy, FifoAndCharDeviceCopied) {
  if (!root()) GTEST_SKIP() << "needs root (mknod)";
  Layers t(1);
  ASSERT_EQ(::mkfifo((t.layer(0) + "/fifo").c_str(), 0600), 0);
  ASSERT_EQ(::mknod((t.layer(0) + "/null").c_str(), S_IFCHR | 0640, ::makedev(1, 3)), 0);
  ASSERT_EQ(::chmod((t.layer(0) + "/null").c_str(), 0640), 0);
  ::mknod((t.layer(0) + "/sock").c_str(), S_IFSOCK | 0600, 0);
  t.copy();
  struct stat f = lstat_of(t.out() + "/fifo");
  EXPECT_TRUE(S_ISFIFO(f.st_mode));
  EXPECT_EQ(f.st_mode & 07777, 0600u);
  struct stat c = lstat_of(t.out() + "/null");
  EXPECT_TRUE(S_ISCHR(c.st_mode));
  EXPECT_EQ(c.st_rdev, ::makedev(1, 3));
  EXPECT_EQ(c.st_mode & 07777, 0640u);
  EXPECT_FALSE(exists(t.out() + "/sock"));  // sockets are not content
}

TEST(FlattenCopy, OverlayMarkersAreNotCopiedOtherXattrsAre) {
  if (!root()) GTEST_SKIP() << "needs root (trusted.* xattrs)";
  Layers t(2);
  mkdir_p(t.layer(0) + "/d");
  write_file(t.layer(0) + "/d/old", "old");
  mkdir_p(t.layer(1) + "/d");
  opaque(t.layer(1) + "/d");
  ASSERT_EQ(::setxattr((t.layer(1) + "/d").c_str(), "user.overlay.opaque", "y", 1, 0), 0);
  ASSERT_EQ(::setxattr((t.layer(1) + "/d").c_str(), "trusted.kiln", "keep", 4, 0), 0);
  write_file(t.layer(1) + "/f", "f");
  ASSERT_EQ(::setxattr((t.layer(1) + "/f").c_str(), "trusted.overlay.redirect", "/x", 2, 0), 0);
  ASSERT_EQ(::setxattr((t.layer(1) + "/f").c_str(), "trusted.kiln", "keep", 4, 0), 0);
  t.copy();
  EXPECT_EQ(xattr_names(t.out() + "/d"), std::set<std::string>{"trusted.kiln"});
  EXPECT_EQ(xattr_names(t.out() + "/f"), std::set<std::string>{"trusted.kiln"});
  EXPECT_FALSE(exists(t.out() + "/d/old"));
}

TEST(FlattenCopy, TwoThreadsMakeTheSameTreeAsOne) {
  Layers t(2);
  for (int i = 0; i < 40; ++i) {
    std::string d = t.layer(i % 2) + "/dir" + std::to_string(i % 7) + "/sub" + std::to_string(i);
    mkdir_p(d);
    write_file(d + "/f", std::string(static_cast<size_t>(i) * 1000, 'x'));
    write_file(t.layer(i % 2) + "/dir" + std::to_string(i % 7) + "/top" + std::to_string(i), "t");
  }
  t.copy(1);
  auto one = listing(t.out());
  remove_tree(t.out());
  mkdir_p(t.out());
  t.copy(2);
  EXPECT_EQ(listing(t.out()), one);
  EXPECT_EQ(one.size(), 40u * 3 + 7);
}

TEST(FlattenCopy, ErrorNamesPathAndCall) {
  Layers t(1);
  mkdir_p(t.layer(0) + "/etc");
  write_file(t.layer(0) + "/etc/passwd", "x");
  mkdir_p(t.out() + "/etc");  // not empty: the copy refuses to replace anything
  std::string msg;
  try {
    t.copy();
  } catch (const Error& e) {
    msg = e.what();
    EXPECT_EQ(e.code(), EEXIST);
  }
  EXPECT_EQ(msg, "etc: mkdirat: File exists");
}
