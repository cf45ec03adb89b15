// settle_orphaned (engine/monitor.hpp): a record read before its monitor recorded the end and
// exited must not be settled as "status unknown" over the end the monitor wrote.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "engine/monitor.hpp"
#include "engine/records.hpp"
#include "runtime/state.hpp"

using namespace kiln::engine;

namespace {

// A process that has come and gone: its pid and start time name nothing alive.
std::pair<pid_t, uint64_t> gone_process() {
  int ready[2];
  if (::pipe(ready) != 0) std::abort();
  pid_t pid = ::fork();
  if (pid == 0) {
    char c;
    (void)::read(ready[0], &c, 1);
    ::_exit(0);
  }
  uint64_t start = kiln::runtime::process_start_time(pid);
  (void)::write(ready[1], "x", 1);
  int st = 0;
  ::waitpid(pid, &st, 0);
  ::close(ready[0]);
  ::close(ready[1]);
  return {pid, start};
}

class Orphans : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kiln-orphans-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(Orphans, EndWrittenAfterTheRecordWasReadIsKept) {
  RunRecords records(dir_);
  RunRecord r;
  r.id = RunRecords::new_id();
  records.create(r);
  auto [pid, start] = gone_process();
  ASSERT_NE(start, 0u);
  r.monitor_pid = pid;
  r.monitor_start_time = start;
  r.started = "2026-01-01T00:00:00Z";
  records.save(r);
  RunRecord stale = records.load(r.id);  // what `ps` read before the monitor finished
  r.exit_code = 3;
  r.finished = "2026-01-01T00:00:01Z";
  records.save(r);  // the monitor's last write, then it exited
  EXPECT_EQ(settle_orphaned(records, stale), "");
  EXPECT_EQ(stale.exit_code, 3);
  RunRecord on_disk = records.load(r.id);
  EXPECT_EQ(on_disk.exit_code, 3);
  EXPECT_TRUE(on_disk.exit_note.empty());
  records.remove(r);
}

TEST_F(Orphans, MonitorGoneWithoutAnEndIsSettled) {
  RunRecords records(dir_);
  RunRecord r;
  r.id = RunRecords::new_id();
  records.create(r);
  auto [pid, start] = gone_process();
  r.monitor_pid = pid;
  r.monitor_start_time = start;
  r.started = "2026-01-01T00:00:00Z";
  records.save(r);
  std::string note = settle_orphaned(records, r);
  EXPECT_NE(note.find("status unknown because the monitor died"), std::string::npos) << note;
  EXPECT_FALSE(records.load(r.id).finished.empty());
  records.remove(r);
}

}  // namespace
