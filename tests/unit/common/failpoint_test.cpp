#include "common/failpoint.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

#include "common/error.hpp"

#ifdef KILN_FAILPOINTS
// Armed once per process, from the environment, at the first point reached: each test sets it
// up in a child of its own.
namespace {
template <typename F>
int in_child(const char* env, F f) {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setenv("KILN_FAILPOINT", env, 1);
    ::_exit(f());
  }
  int st = 0;
  ::waitpid(pid, &st, 0);
  return st;
}
}  // namespace

TEST(Failpoint, ErrorThrowsTheInjectedErrno) {
  int st = in_child("unit-a:error=ENOSPC,unit-b:error", [] {
    KILN_FAILPOINT("unit-unarmed");
    try {
      KILN_FAILPOINT("unit-a");
      return 1;
    } catch (const kiln::Error& e) {
      if (e.code() != ENOSPC || std::string(e.what()).find("No space left on device") == std::string::npos) return 2;
    }
    try {
      KILN_FAILPOINT("unit-b");
      return 3;
    } catch (const kiln::Error& e) {
      if (e.code() != EIO) return 4;
    }
    return 0;
  });
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 0);
}

TEST(Failpoint, NthHitOnly) {
  int st = in_child("unit-n:error@3", [] {
    for (int i = 1; i <= 4; ++i) {
      try {
        KILN_FAILPOINT("unit-n");
      } catch (const kiln::Error&) {
        return i == 3 ? 0 : 10 + i;
      }
    }
    return 1;
  });
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 0);
}

TEST(Failpoint, KillIsSigkill) {
  int st = in_child("unit-k:kill", [] {
    KILN_FAILPOINT("unit-k");
    return 0;
  });
  ASSERT_TRUE(WIFSIGNALED(st));
  EXPECT_EQ(WTERMSIG(st), SIGKILL);
}
#else
TEST(Failpoint, CompiledOut) {
  // A normal build: the macro is nothing at all.
  KILN_FAILPOINT("anything");
  SUCCEED();
}
#endif
