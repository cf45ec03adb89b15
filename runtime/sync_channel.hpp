// The runtime process and the container's init talk over a SOCK_SEQPACKET socketpair with
// fixed-size typed messages. An error in the child travels back as a struct naming the stage
// and carrying the errno, never as free text to be parsed.
#pragma once
#include <cstdint>
#include <string>

#include "common/error.hpp"
#include "common/unique_fd.hpp"

namespace kiln::runtime {

enum class SyncType : uint32_t {
  go = 1,                // parent -> child: id maps written (cgroups joined if by pid); set up the container
  create_hooks = 2,      // child -> parent: namespaces and mounts exist; run createRuntime hooks now
  hooks_done = 3,        // parent -> child
  ready = 4,             // child -> parent: everything is set up, waiting for start
  start = 5,             // parent -> child (run): exec the process now
  error = 6,             // child -> parent: setup failed (stage, errno, message)
  pty_master = 7,        // child -> parent: the terminal's master fd rides along (SCM_RIGHTS)
  seccomp_listener = 8,  // child -> parent: the seccomp notify fd (SCM_RIGHTS)
  handed_over = 9,       // parent -> child (create): the state names the init; wait for start
};

struct SyncMessage {
  SyncType type = SyncType::error;
  int32_t err = 0;
  ErrorKind kind = ErrorKind::general;
  char stage[32] = {};
  char text[1024] = {};
  char origin[512] = {};  // the error's first message, before the child added context

  // An error message as the kiln::Error it was in the child: "stage: text", errno, kind.
  Error to_error() const;
};

class SyncChannel {
 public:
  SyncChannel() = default;
  explicit SyncChannel(UniqueFd fd) : fd_(std::move(fd)) {}
  static std::pair<SyncChannel, SyncChannel> make_pair();

  void send(SyncType type) const;
  // Sends e (a kiln::Error keeps its errno, kind and origin) as an error message of `stage`.
  void send_error(const char* stage, const std::exception& e) const;
  void send_fd(SyncType type, int fd) const;
  // Blocks for the next message; EOF (peer gone) is reported as an error message with err = EPIPE.
  SyncMessage receive(UniqueFd* fd_out = nullptr) const;
  // Waits for `want`; an error message from the peer is rethrown as kiln::Error.
  void expect(SyncType want, UniqueFd* fd_out = nullptr) const;

  int fd() const { return fd_.get(); }
  void close() { fd_.reset(); }

 private:
  UniqueFd fd_;
};

}  // namespace kiln::runtime
