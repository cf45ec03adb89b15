// Layer extraction: whiteout conversion (overlay and flatten), digests, and hostile tars.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "common/error.hpp"
#include "common/files.hpp"
#include "image/layer_unpack.hpp"
#include "image/whiteout.hpp"
#include "tar_builder.hpp"

using namespace kiln;
using namespace kiln::image;
using kiln::test::TarBuilder;

namespace {

struct TempTree {
  std::string path;
  TempTree() {
    char t[] = "/tmp/kiln-unpack-test.XXXXXX";
    path = ::mkdtemp(t);
    mkdir_p(path + "/root");
    mkdir_p(path + "/outside");
  }
  ~TempTree() { remove_tree(path); }
  std::string root() const { return path + "/root"; }
};

UniqueFd memfd(const std::string& data) {
  UniqueFd fd(::memfd_create("layer", MFD_CLOEXEC));
  write_all(fd.get(), data, "memfd");
  ::lseek(fd.get(), 0, SEEK_SET);
  return fd;
}

UnpackResult unpack(const std::string& tar, const std::string& root, WhiteoutStrategy& ws, UnpackOptions opt = {}) {
  UniqueFd in = memfd(tar);
  UniqueFd r = open_file(root, O_PATH | O_DIRECTORY);
  return unpack_layer(in.get(), r.get(), ws, opt);
}

std::string error_of(auto f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

bool exists(const std::string& p) { return path_exists(p); }

}  // namespace

TEST(CleanEntryPath, Lexical) {
  EXPECT_EQ(clean_entry_path("./a/b/"), "a/b");
  EXPECT_EQ(clean_entry_path("/etc/passwd"), "etc/passwd");
  EXPECT_EQ(clean_entry_path("a/../b"), "b");
  EXPECT_EQ(clean_entry_path("./"), "");
  EXPECT_THROW(clean_entry_path("../x"), Error);
  EXPECT_THROW(clean_entry_path("a/../../x"), Error);
}

TEST(Unpack, DigestsCoverCompressedAndUncompressedStreams) {
  for (const char* filter : {"none", "gzip", "zstd"}) {
    TempTree t;
    std::string plain = TarBuilder().file("a", "hello").finish();
    std::string blob = TarBuilder(filter).file("a", "hello").finish();
    OverlayWhiteouts ws;
    auto r = unpack(blob, t.root(), ws);
    EXPECT_EQ(r.digest, sha256_of(blob)) << filter;
    EXPECT_EQ(r.diff_id, sha256_of(plain)) << filter;
    EXPECT_EQ(r.compression, std::string(filter)) << filter;
    EXPECT_EQ(read_file(t.root() + "/a"), "hello");
  }
}

TEST(Unpack, OverlayWhiteoutsBecomeDevicesAndXattrs) {
  TempTree t;
  OverlayWhiteouts ws;
  unpack(TarBuilder().dir("d").file("d/.wh.gone", "").file("d/.wh..wh..opq", "").file("d/kept", "k").finish(), t.root(),
         ws);
  struct stat st;
  ASSERT_EQ(::lstat((t.root() + "/d/gone").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, ::makedev(0, 0));
  char v[4] = {};
  ASSERT_EQ(::lgetxattr((t.root() + "/d").c_str(), "trusted.overlay.opaque", v, sizeof v), 1);
  EXPECT_EQ(v[0], 'y');
  EXPECT_TRUE(exists(t.root() + "/d/kept"));
  EXPECT_FALSE(exists(t.root() + "/d/.wh.gone"));
}

TEST(Unpack, FlattenWhiteoutsDeleteLowerContent) {
  TempTree t;
  FlattenWhiteouts ws;
  unpack(TarBuilder().dir("d").file("d/a", "a").file("d/b", "b").dir("o").file("o/old", "o").finish(), t.root(), ws);
  // The opaque marker comes after this layer's own file: the file must survive.
  unpack(TarBuilder().file("d/.wh.a", "").file("o/new", "n").file("o/.wh..wh..opq", "").finish(), t.root(), ws);
  EXPECT_FALSE(exists(t.root() + "/d/a"));
  EXPECT_TRUE(exists(t.root() + "/d/b"));
  EXPECT_FALSE(exists(t.root() + "/o/old"));
  EXPECT_TRUE(exists(t.root() + "/o/new"));
}

TEST(Unpack, OwnershipAndSpecialBits) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  TempTree t;
  OverlayWhiteouts ws;
  unpack(TarBuilder().file("suid", "x", 04755, 0, 0).file("owned", "x", 02750, 1234, 5678).finish(), t.root(), ws);
  struct stat st;
  ASSERT_EQ(::lstat((t.root() + "/suid").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 04755u);
  ASSERT_EQ(::lstat((t.root() + "/owned").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 1234u);
  EXPECT_EQ(st.st_gid, 5678u);
  EXPECT_EQ(st.st_mode & 07777, 02750u);
}

TEST(Unpack, DotDotEscapeIsRefusedByName) {
  TempTree t;
  OverlayWhiteouts ws;
  std::string m = error_of([&] { unpack(TarBuilder().file("../outside/pwned", "x").finish(), t.root(), ws); });
  EXPECT_NE(m.find("entry ../outside/pwned climbs out of the root"), std::string::npos) << m;
  EXPECT_FALSE(exists(t.path + "/outside/pwned"));
}

TEST(Unpack, AbsoluteNamesStayInside) {
  TempTree t;
  OverlayWhiteouts ws;
  unpack(TarBuilder().file(t.path + "/outside/abs", "x").finish(), t.root(), ws);
  EXPECT_FALSE(exists(t.path + "/outside/abs"));
  EXPECT_TRUE(exists(t.root() + t.path + "/outside/abs"));
}

TEST(Unpack, SymlinkWriteThroughStaysInside) {
  TempTree t;
  OverlayWhiteouts ws;
  // An absolute symlink to the outside dir, then a file "through" it: resolved in the root.
  std::string m = error_of([&] {
    unpack(TarBuilder().symlink("link", t.path + "/outside").file("link/pwned", "x").finish(), t.root(), ws);
  });
  EXPECT_FALSE(exists(t.path + "/outside/pwned"));
  // A relative ../.. link is clamped at the root the same way.
  TempTree t2;
  OverlayWhiteouts ws2;
  error_of(
      [&] { unpack(TarBuilder().symlink("up", "../../..").file("up/outside/pwned", "x").finish(), t2.root(), ws2); });
  EXPECT_FALSE(exists(t2.path + "/outside/pwned"));
}

TEST(Unpack, SymlinkIsReplacedNotFollowed) {
  TempTree t;
  write_file(t.path + "/outside/victim", "safe");
  OverlayWhiteouts ws;
  unpack(TarBuilder().symlink("f", t.path + "/outside/victim").file("f", "evil").finish(), t.root(), ws);
  EXPECT_EQ(read_file(t.path + "/outside/victim"), "safe");
  EXPECT_EQ(read_file(t.root() + "/f"), "evil");
}

TEST(Unpack, HardlinkOutsideIsRefused) {
  TempTree t;
  write_file(t.path + "/outside/victim", "safe");
  OverlayWhiteouts ws;
  std::string m = error_of([&] { unpack(TarBuilder().hardlink("l", "../outside/victim").finish(), t.root(), ws); });
  EXPECT_NE(m.find("climbs out of the root"), std::string::npos) << m;
  // An absolute target is taken inside the root, where it does not exist.
  m = error_of([&] { unpack(TarBuilder().hardlink("l", t.path + "/outside/victim").finish(), t.root(), ws); });
  EXPECT_NE(m.find("not in the image"), std::string::npos) << m;
  struct stat st;
  ::stat((t.path + "/outside/victim").c_str(), &st);
  EXPECT_EQ(st.st_nlink, 1u);
}

TEST(Unpack, HardlinkIsNotWrittenThrough) {
  TempTree t;
  OverlayWhiteouts ws;
  unpack(TarBuilder().file("a", "original").hardlink("b", "a").file("b", "new").finish(), t.root(), ws);
  EXPECT_EQ(read_file(t.root() + "/a"), "original");
  EXPECT_EQ(read_file(t.root() + "/b"), "new");
}

TEST(Unpack, HardlinkCopiesUpFromLowerLayer) {
  TempTree t;
  mkdir_p(t.path + "/lower/d");
  write_file(t.path + "/lower/d/src", "from below");
  std::vector<UniqueFd> lowers;
  lowers.push_back(open_file(t.path + "/lower", O_PATH | O_DIRECTORY));
  OverlayWhiteouts ws(std::move(lowers));
  unpack(TarBuilder().hardlink("d/link", "d/src").finish(), t.root(), ws);
  EXPECT_EQ(read_file(t.root() + "/d/link"), "from below");
}

TEST(Unpack, DecompressedSizeCap) {
  TempTree t;
  OverlayWhiteouts ws;
  UnpackOptions opt;
  opt.max_size = 64 * 1024;
  std::string bomb = TarBuilder("gzip").file("zeros", std::string(1 << 20, '\0')).finish();
  EXPECT_LT(bomb.size(), 8192u);
  std::string m = error_of([&] { unpack(bomb, t.root(), ws, opt); });
  EXPECT_NE(m.find("decompresses to more than the limit of 65536 bytes"), std::string::npos) << m;
}

TEST(Unpack, TruncatedGzipFails) {
  TempTree t;
  OverlayWhiteouts ws;
  std::string blob = TarBuilder("gzip").file("a", std::string(100000, 'x')).file("b", "y").finish();
  std::string m = error_of([&] { unpack(blob.substr(0, blob.size() / 2), t.root(), ws); });
  EXPECT_NE(m, "(no error)");
}
