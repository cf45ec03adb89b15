// The secret store: layout and permissions, names, size limit, binary values, metadata never
// holding the value, create/rm races with itself are serialised.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fcntl.h>

#include "common/error.hpp"
#include "common/files.hpp"
#include "engine/secret_buffer.hpp"
#include "engine/secret_store.hpp"

using namespace kiln;
using namespace kiln::engine;

namespace {

struct TempRoot {
  std::string dir;
  TempRoot() {
    char t[] = "/tmp/kiln-secret-test.XXXXXX";
    dir = ::mkdtemp(t);
  }
  ~TempRoot() { remove_tree(dir); }
};

mode_t mode_of(const std::string& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

}  // namespace

TEST(SecretName, Rules) {
  EXPECT_TRUE(valid_secret_name("a"));
  EXPECT_TRUE(valid_secret_name("db.pass_1-x"));
  EXPECT_TRUE(valid_secret_name(std::string(64, 'x')));
  EXPECT_FALSE(valid_secret_name(std::string(65, 'x')));
  EXPECT_FALSE(valid_secret_name(""));
  EXPECT_FALSE(valid_secret_name(".hidden"));
  EXPECT_FALSE(valid_secret_name("-x"));
  EXPECT_FALSE(valid_secret_name("a/b"));
  EXPECT_FALSE(valid_secret_name(".."));
  EXPECT_FALSE(valid_secret_name("a b"));
}

TEST(SecretStore, CreateReadListRemove) {
  TempRoot root;
  SecretStore store(root.dir);
  EXPECT_EQ(mode_of(root.dir + "/secrets"), 0700u);
  std::string value("bin\0ary\xff\n", 9);
  auto info = store.create("s1", value);
  EXPECT_EQ(info.size, 9u);
  EXPECT_EQ(mode_of(store.value_path("s1")), 0600u);
  EXPECT_EQ(store.read("s1").view(), value);

  auto meta = read_file(root.dir + "/secrets/meta/s1.json");
  EXPECT_EQ(meta.find("ary"), std::string::npos) << "metadata must not hold the value";

  store.create("a0", "x");
  auto all = store.list();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].name, "a0");
  EXPECT_EQ(all[1].name, "s1");
  EXPECT_FALSE(all[1].created.empty());

  store.remove("s1");
  EXPECT_FALSE(store.exists("s1"));
  EXPECT_FALSE(path_exists(store.value_path("s1")));
  EXPECT_THROW(store.read("s1"), Error);
  EXPECT_THROW(store.remove("s1"), Error);
}

TEST(SecretStore, Errors) {
  TempRoot root;
  SecretStore store(root.dir);
  store.create("dup", "v1secret");
  try {
    store.create("dup", "v2secret");
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "secret dup already exists");
  }
  EXPECT_EQ(store.read("dup").view(), "v1secret");
  EXPECT_THROW(store.create("empty", ""), Error);
  EXPECT_THROW(store.create("../x", "v"), Error);
  EXPECT_NO_THROW(store.create("max", std::string(kMaxSecretSize, 'a')));
  try {
    store.create("big", std::string(kMaxSecretSize + 1, 'a'));
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "secret big: value larger than 512 KiB");
  }
  try {
    store.info("nope");
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "secret nope not found");
  }
}

TEST(SecretStore, TightensLoosenedDirectory) {
  TempRoot root;
  { SecretStore s(root.dir); }
  ASSERT_EQ(::chmod((root.dir + "/secrets").c_str(), 0755), 0);
  SecretStore again(root.dir);
  EXPECT_EQ(mode_of(root.dir + "/secrets"), 0700u);
}

TEST(SecretStore, ReadInputLimit) {
  TempRoot root;
  std::string path = root.dir + "/in";
  write_file(path, std::string(kMaxSecretSize + 10, 'z'));
  UniqueFd big = open_file(path, O_RDONLY);
  EXPECT_THROW(read_secret_input(big.get(), "stdin"), Error);
  write_file(path, std::string(kMaxSecretSize, 'z'));
  UniqueFd ok = open_file(path, O_RDONLY);
  EXPECT_EQ(read_secret_input(ok.get(), "stdin").size(), kMaxSecretSize);
}

TEST(SecretBuffer, GrowsMovesAndClears) {
  SecretBuffer b;
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.view(), "");
  std::string expect;
  for (int i = 0; i < 100; ++i) {
    b.append("0123456789");
    expect += "0123456789";
  }
  EXPECT_EQ(b.view(), expect);
  SecretBuffer moved = std::move(b);
  EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty by contract
  EXPECT_EQ(moved.size(), 1000u);
  moved.clear();
  EXPECT_TRUE(moved.empty());
}
