// The detached monitor's report: what kiln reads back is the error the monitor had.
#include "engine/monitor_report.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "common/process.hpp"

namespace kiln::engine {
namespace {

TEST(MonitorReport, SuccessArrivesWhole) {
  Pipe p = make_pipe();
  write_report(p.write.get(), MonitorReport::success());
  auto r = read_report(p.read.get());
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->started);
}

TEST(MonitorReport, FailureKeepsErrnoKindAndOrigin) {
  Pipe p = make_pipe();
  Error e = Error("exec: \"nope\": executable file not found", ENOENT, ErrorKind::exec).wrapped("create container");
  write_report(p.write.get(), MonitorReport::failure(e));
  auto r = read_report(p.read.get());
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->started);
  Error back = r->to_error();
  EXPECT_STREQ(back.what(), e.what());
  EXPECT_EQ(back.code(), ENOENT);
  EXPECT_EQ(back.kind(), ErrorKind::exec);
  EXPECT_EQ(back.origin(), e.origin());
}

TEST(MonitorReport, OtherExceptionsAndLongMessages) {
  Pipe p = make_pipe();
  write_report(p.write.get(), MonitorReport::failure(std::runtime_error(std::string(5000, 'x'))));
  auto r = read_report(p.read.get());
  ASSERT_TRUE(r);
  Error back = r->to_error();
  EXPECT_EQ(std::string(back.what()).rfind("internal error: xxx", 0), 0u);
  EXPECT_EQ(std::string(back.what()).size(), sizeof r->message - 1);  // truncated, still terminated
  EXPECT_EQ(back.code(), 0);
}

TEST(MonitorReport, AWriterThatDiedIsNoReport) {
  Pipe p = make_pipe();
  p.write.reset();
  EXPECT_FALSE(read_report(p.read.get()));
  Pipe q = make_pipe();
  ASSERT_EQ(::write(q.write.get(), "OK", 2), 2);  // a partial (or textual) report is not one
  q.write.reset();
  EXPECT_FALSE(read_report(q.read.get()));
}

}  // namespace
}  // namespace kiln::engine
