#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "common/files.hpp"

namespace kiln {
namespace {

class AtomicTemp : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kiln-atomic-temp-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { remove_tree(dir_); }
  size_t dir_entries_count() const {
    size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir_)) ++n;
    return n;
  }
  std::string dir_;
};

TEST(AtomicTempWriter, ReadsThePidOfTheWriter) {
  EXPECT_EQ(atomic_temp_writer("abc.tmp-1234-99887766"), 1234);
  EXPECT_EQ(atomic_temp_writer("a.tmp-b.tmp-77-1"), 77);
  EXPECT_EQ(atomic_temp_writer("abc.json"), std::nullopt);
  EXPECT_EQ(atomic_temp_writer("abc.tmp-99887766"), std::nullopt);  // an older kiln's: no pid
  EXPECT_EQ(atomic_temp_writer("abc.tmp--1"), std::nullopt);
  EXPECT_EQ(atomic_temp_writer("abc.tmp-0-1"), std::nullopt);
  EXPECT_EQ(atomic_temp_writer("abc.tmp-12x-1"), std::nullopt);
  EXPECT_EQ(atomic_temp_writer("abc.tmp-99999999999999999999-1"), std::nullopt);
}

TEST_F(AtomicTemp, TheWritersPidIsInTheTempName) {
  // The temp file is gone after the write; its name is what the writer leaves when killed.
  write_file_atomic(dir_ + "/f", "x", 0600, Sync::in_memory);
  EXPECT_EQ(read_file(dir_ + "/f"), "x");
  EXPECT_EQ(dir_entries_count(), 1u);
}

TEST_F(AtomicTemp, RemovesOnlyTheTempFilesOfDeadWriters) {
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) ::_exit(0);
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);  // a pid that is gone (not reused this soon)
  std::string dead = dir_ + "/blob.tmp-" + std::to_string(child) + "-5";
  std::string live = dir_ + "/blob.tmp-" + std::to_string(::getpid()) + "-6";
  std::string plain = dir_ + "/blob";
  for (const auto& p : {dead, live, plain}) write_file(p, "x");
  remove_dead_writers_temp_files(dir_);
  EXPECT_FALSE(path_exists(dead));
  EXPECT_TRUE(path_exists(live));
  EXPECT_TRUE(path_exists(plain));
}

}  // namespace
}  // namespace kiln
