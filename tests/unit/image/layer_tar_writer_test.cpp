// A build step's upper dir written as its layer tar, plainly and in place: the same bytes, and
// in place the dir is left as the unpack of that tar would make it.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <string>

#include "common/files.hpp"
#include "image/digest.hpp"
#include "image/layer_tar_writer.hpp"

namespace kiln::image {
namespace {

class LayerTarInPlace : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kiln-layer-tar-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { remove_tree(dir_); }

  // The same small tree twice: files, a hardlink, a symlink, a subdir, a user xattr on a file,
  // a socket, times newer than the epoch.
  void make_tree(const std::string& root) {
    mkdir_p(root + "/sub", 0750);
    write_file(root + "/sub/a", "alpha", 0640);
    write_file(root + "/b", "bravo", 0755);
    ASSERT_EQ(::link((root + "/sub/a").c_str(), (root + "/sub/a2").c_str()), 0);
    ASSERT_EQ(::symlink("sub/a", (root + "/s").c_str()), 0);
    setxattr((root + "/b").c_str(), "user.note", "x", 1, 0);  // tmpfs without user xattrs: skipped
    int s = ::socket(AF_UNIX, SOCK_STREAM, 0);
    ASSERT_GE(s, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::string sp = root + "/sock";
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", sp.c_str());
    ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ::close(s);
  }

  std::string dir_;
};

TEST_F(LayerTarInPlace, SameBytesAsThePlainTarAndTheDirIsNormalized) {
  make_tree(dir_ + "/one");
  make_tree(dir_ + "/two");
  const int64_t epoch = 1000;
  write_layer_tar(dir_ + "/one", dir_ + "/one.tar", epoch);
  LayerTarResult r = write_layer_tar_in_place(dir_ + "/two", dir_ + "/two.tar", epoch);
  std::string plain = read_file(dir_ + "/one.tar");
  EXPECT_EQ(read_file(dir_ + "/two.tar"), plain);
  EXPECT_EQ(r.digest, sha256_of(plain));
  EXPECT_EQ(r.size, plain.size());

  struct stat st;
  ASSERT_EQ(::lstat((dir_ + "/two/sock").c_str(), &st), -1) << "the socket has no tar form: removed";
  for (const char* p : {"", "/sub", "/sub/a", "/b", "/s"}) {
    ASSERT_EQ(::lstat((dir_ + "/two" + p).c_str(), &st), 0) << p;
    if (*p) {
      EXPECT_EQ(st.st_mtim.tv_sec, epoch) << p;
      EXPECT_EQ(st.st_mtim.tv_nsec, 0) << p;
      EXPECT_EQ(st.st_atim.tv_sec, epoch) << p;
    }
  }
  ASSERT_EQ(::stat((dir_ + "/two").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u) << "the root is a plain 0755 dir";
  ASSERT_EQ(::stat((dir_ + "/two/sub").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u) << "modes are kept";
  EXPECT_EQ(::getxattr((dir_ + "/two/b").c_str(), "user.note", nullptr, 0), -1) << "xattrs the tar drops are gone";
}

}  // namespace
}  // namespace kiln::image
