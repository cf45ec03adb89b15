// What the detached monitor tells kiln over its pipe, once: started, or the error that stopped
// the start. One write of a fixed-size struct (below PIPE_BUF, so it arrives whole or not at
// all), never text to be parsed: the error keeps its errno, kind and origin to the exit code.
#pragma once
#include <cstdint>
#include <exception>
#include <optional>

#include "common/error.hpp"

namespace kiln::engine {

struct MonitorReport {
  int32_t started = 0;
  int32_t err = 0;
  ErrorKind kind = ErrorKind::general;
  char message[1024] = {};
  char origin[512] = {};

  static MonitorReport success();
  static MonitorReport failure(const std::exception& e);
  // The error a failure report carries, as the kiln::Error it was in the monitor.
  Error to_error() const;
};

// A failed write means kiln went away; the container runs on, so it is not an error.
void write_report(int fd, const MonitorReport& report);
// nullopt when the writer closed without a whole report (it died).
std::optional<MonitorReport> read_report(int fd);

}  // namespace kiln::engine
