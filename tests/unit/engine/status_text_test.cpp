// What `kiln ps` says, docker's words.
#include <gtest/gtest.h>

#include "engine/records.hpp"
#include "engine/status_text.hpp"

using namespace kiln::engine;

TEST(StatusText, DockerWording) {
  EXPECT_EQ(human_duration(0), "Less than a second");
  EXPECT_EQ(human_duration(1), "1 second");
  EXPECT_EQ(human_duration(59), "59 seconds");
  EXPECT_EQ(human_duration(2 * 3600), "2 hours");
  EXPECT_EQ(human_duration(3 * 86400), "3 days");
  RunRecord r;
  RunStatus s;
  s.state = "exited";
  s.exit_code = 3;
  EXPECT_EQ(status_text(r, s).rfind("Exited (3)", 0), 0u);
  r.timed_out = true;
  s.exit_code = 124;
  EXPECT_EQ(status_text(r, s).rfind("Exited (124) timeout", 0), 0u);
  s = RunStatus{};
  s.state = "created";
  EXPECT_EQ(status_text(r, s), "Created");
  s.state = "unknown";
  EXPECT_EQ(status_text(r, s), "Exited (unknown)");
  s.state = "running";
  EXPECT_EQ(status_text(r, s).rfind("Up ", 0), 0u);
}
