#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <set>
#include <string>

#include "common/dir_stream.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "common/process.hpp"

using namespace kiln;

namespace {
pid_t sleeper() {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::pause();
    ::_exit(0);
  }
  return pid;
}
bool reaped(pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }
}  // namespace

TEST(Child, KilledAndReapedWhenItsOwnerGoes) {
  pid_t pid = sleeper();
  ASSERT_GT(pid, 0);
  { Child c(pid); }
  EXPECT_TRUE(reaped(pid)) << "still there (or a zombie)";
}

TEST(Child, WaitGivesTheStatusAndReleaseLetsGo) {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(7);
  Child c(pid);
  int st = c.wait();
  EXPECT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 7);
  EXPECT_FALSE(c);
  pid_t other = sleeper();
  {
    Child keep(other);
    EXPECT_EQ(keep.release(), other);
  }
  EXPECT_EQ(::kill(other, 0), 0) << "a released child must survive its former owner";
  Child(other).kill_and_reap();
  EXPECT_TRUE(reaped(other));
}

TEST(Child, MovedOwnershipKillsOnce) {
  pid_t pid = sleeper();
  Child a(pid);
  Child b(std::move(a));
  EXPECT_FALSE(a);
  EXPECT_EQ(b.pid(), pid);
  b = Child();
  EXPECT_TRUE(reaped(pid));
}

TEST(DirStream, ListsEntriesWithoutDotsAndLeavesTheFd) {
  char tmpl[] = "/tmp/kiln-dirstream-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  write_file(dir + "/a", "");
  ::mkdir((dir + "/b").c_str(), 0755);
  UniqueFd fd = open_file(dir, O_RDONLY | O_DIRECTORY);
  std::set<std::string> names;
  {
    DirStream d(fd.get(), dir);
    while (const dirent* e = d.next()) names.insert(e->d_name);
  }
  EXPECT_EQ(names, (std::set<std::string>{"a", "b"}));
  struct stat st;
  EXPECT_EQ(::fstat(fd.get(), &st), 0) << "the caller's fd stays open";
  EXPECT_THROW(DirStream(-1, "nothing"), Error);
  std::filesystem::remove_all(dir);
}
