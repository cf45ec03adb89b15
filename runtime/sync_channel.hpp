// The runtime process and the container's init talk over a SOCK_SEQPACKET socketpair with
// fixed-size typed messages. An error in the child travels back as a struct naming the stage
// and carrying the errno, never as free text to be parsed.
#pragma once
#include <cstdint>
#include <string>

#include "common/unique_fd.hpp"

namespace kiln::runtime {

enum class SyncType : uint32_t {
  go = 1,            // parent -> child: id maps written (cgroups joined if by pid); set up the container
  create_hooks = 2,  // child -> parent: namespaces and mounts exist; run createRuntime hooks now
  hooks_done = 3,    // parent -> child
  ready = 4,         // child -> parent: everything is set up, waiting for start
  start = 5,         // parent -> child (run): exec the process now
  error = 6,         // child -> parent: setup failed (stage, errno, message)
  pty_master = 7,    // child -> parent: the terminal's master fd rides along (SCM_RIGHTS)
  seccomp_listener = 8,  // child -> parent: the seccomp notify fd (SCM_RIGHTS)
};

struct SyncMessage {
  SyncType type = SyncType::error;
  int32_t err = 0;
  char stage[32] = {};
  char text[1024] = {};
};

class SyncChannel {
 public:
  SyncChannel() = default;
  explicit SyncChannel(UniqueFd fd) : fd_(std::move(fd)) {}
  static std::pair<SyncChannel, SyncChannel> make_pair();

  void send(SyncType type) const;
  void send_error(const char* stage, const std::string& text, int err) const;
  void send_fd(SyncType type, int fd) const;
  // Blocks for the next message; EOF (peer gone) is reported as an error message with err = EPIPE.
  SyncMessage receive(int* fd_out = nullptr) const;
  // Waits for `want`; an error message from the peer is rethrown as kiln::Error.
  void expect(SyncType want, int* fd_out = nullptr) const;

  int fd() const { return fd_.get(); }
  void close() { fd_.reset(); }

 private:
  UniqueFd fd_;
};

}  // namespace kiln::runtime
