#include "engine/monitor_report.hpp"

#include <limits.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace kiln::engine {

static_assert(sizeof(MonitorReport) <= PIPE_BUF);

MonitorReport MonitorReport::success() {
  MonitorReport r;
  r.started = 1;
  return r;
}

MonitorReport MonitorReport::failure(const std::exception& e) {
  MonitorReport r;
  if (auto* ke = dynamic_cast<const Error*>(&e)) {
    r.err = ke->code();
    r.kind = ke->kind();
    std::strncpy(r.origin, ke->origin().c_str(), sizeof r.origin - 1);
    std::strncpy(r.message, e.what(), sizeof r.message - 1);
  } else {
    std::strncpy(r.message, (std::string("internal error: ") + e.what()).c_str(), sizeof r.message - 1);
  }
  return r;
}

Error MonitorReport::to_error() const {
  std::string text(message, strnlen(message, sizeof message));
  std::string first(origin, strnlen(origin, sizeof origin));
  return Error(text, err, kind, first.empty() ? text : first);
}

void write_report(int fd, const MonitorReport& report) {
  ssize_t n;
  do n = ::write(fd, &report, sizeof report);
  while (n < 0 && errno == EINTR);
}

std::optional<MonitorReport> read_report(int fd) {
  MonitorReport r;
  ssize_t n;
  do n = ::read(fd, &r, sizeof r);
  while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(sizeof r)) return std::nullopt;
  return r;
}

}  // namespace kiln::engine
