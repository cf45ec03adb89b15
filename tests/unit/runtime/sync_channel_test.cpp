// The typed messages between the runtime and the container's init.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>

#include "common/error.hpp"
#include "common/unique_fd.hpp"
#include "runtime/sync_channel.hpp"

using namespace kiln;
using namespace kiln::runtime;

TEST(SyncChannel, AnExecFailureKeepsItsKindErrnoAndOrigin) {
  auto [a, b] = SyncChannel::make_pair();
  Error thrown("exec: \"nope\": not found: no such file or directory", ENOENT, ErrorKind::exec,
               "exec: \"nope\": not found");
  b.send_error("set up process", thrown.wrapped("inner context"));
  try {
    a.expect(SyncType::ready);
    FAIL() << "an error message was not thrown";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::exec);
    EXPECT_EQ(e.code(), ENOENT);
    EXPECT_EQ(e.origin(), "exec: \"nope\": not found");
    EXPECT_EQ(std::string(e.what()),
              "set up process: inner context: exec: \"nope\": not found: no such file or directory");
  }
}

TEST(SyncChannel, OrdinaryErrorsAndEofAndFds) {
  auto [a, b] = SyncChannel::make_pair();
  b.send_error("mount rootfs", Error("mount proc: EPERM", EPERM));
  SyncMessage m = a.receive();
  Error e = m.to_error();
  EXPECT_EQ(e.kind(), ErrorKind::general);
  EXPECT_EQ(e.code(), EPERM);
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  UniqueFd r(p[0]), w(p[1]);
  b.send_fd(SyncType::pty_master, r.get());
  UniqueFd got;
  EXPECT_EQ(a.receive(&got).type, SyncType::pty_master);
  EXPECT_TRUE(got);
  EXPECT_NE(got.get(), r.get());
  b.close();
  SyncMessage eof = a.receive();
  EXPECT_EQ(eof.type, SyncType::error);
  EXPECT_EQ(eof.err, EPIPE);
}
