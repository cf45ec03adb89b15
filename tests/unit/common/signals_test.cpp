#include <gtest/gtest.h>
#include <sys/wait.h>

#include <csignal>

#include "common/error.hpp"
#include "common/signals.hpp"

using namespace kiln;

TEST(Signals, ParsesNamesAndNumbers) {
  EXPECT_EQ(parse_signal("TERM"), SIGTERM);
  EXPECT_EQ(parse_signal("SIGKILL"), SIGKILL);
  EXPECT_EQ(parse_signal("sigusr1"), SIGUSR1);
  EXPECT_EQ(parse_signal("15"), 15);
  EXPECT_EQ(parse_signal("RTMIN+2"), SIGRTMIN + 2);
}

TEST(Signals, RejectsUnknown) {
  EXPECT_THROW(parse_signal("NOPE"), Error);
  EXPECT_THROW(parse_signal("0"), Error);
  EXPECT_THROW(parse_signal("999"), Error);
  EXPECT_THROW(parse_signal(""), Error);
  try {
    parse_signal("SIGFOO");
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "signal SIGFOO: unknown");
  }
}

TEST(Signals, ExitStatusFromWait) {
  EXPECT_EQ(exit_status_from_wait(3 << 8), 3);
  EXPECT_EQ(exit_status_from_wait(SIGKILL), 128 + SIGKILL);
}
