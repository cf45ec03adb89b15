// kiln::Error: the one exception type the libraries throw.
// It carries a single line: what was attempted, on which path/id/field, and why (errno text).
// Callers add context on the way up with wrap(): "create container web1: mount proc on /proc: ...".
#pragma once
#include <cerrno>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace kiln {

// What kind of failure, for callers that act on it (an exit status), never read from the text.
enum class ErrorKind : int32_t {
  general = 0,
  exec = 1,  // the container's process could not be executed: ENOENT -> 127, else 126
};

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, int err = 0, ErrorKind kind = ErrorKind::general)
      : std::runtime_error(message), errno_(err), kind_(kind), origin_(message) {}
  Error(const std::string& message, int err, ErrorKind kind, std::string origin)
      : std::runtime_error(message), errno_(err), kind_(kind), origin_(std::move(origin)) {}
  // The errno behind the failure, or 0 when it was not a system call.
  int code() const noexcept { return errno_; }
  ErrorKind kind() const noexcept { return kind_; }
  // The message as first thrown, before any context was put in front of it.
  const std::string& origin() const noexcept { return origin_; }
  // A copy with "context: " in front of the message (kind, errno and origin kept).
  Error wrapped(std::string_view context) const;

 private:
  int errno_;
  ErrorKind kind_;
  std::string origin_;
};

// Throws "what: strerror(err)" carrying err.
[[noreturn]] void throw_errno(std::string_view what, int err = errno, ErrorKind kind = ErrorKind::general);

// Runs f(); a kiln::Error escaping it is rethrown with "context: " in front.
template <typename F>
decltype(auto) with_context(std::string_view context, F&& f) {
  try {
    return f();
  } catch (const Error& e) {
    throw e.wrapped(context);
  }
}

}  // namespace kiln
