// kiln::Error: the one exception type the libraries throw.
// It carries a single line: what was attempted, on which path/id/field, and why (errno text).
// Callers add context on the way up with wrap(): "create container web1: mount proc on /proc: ...".
#pragma once
#include <cerrno>
#include <stdexcept>
#include <string>
#include <string_view>

namespace kiln {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, int err = 0) : std::runtime_error(message), errno_(err) {}
  // The errno behind the failure, or 0 when it was not a system call.
  int code() const noexcept { return errno_; }
  // A copy with "context: " in front of the message.
  Error wrapped(std::string_view context) const;

 private:
  int errno_;
};

// Throws "what: strerror(err)" carrying err.
[[noreturn]] void throw_errno(std::string_view what, int err = errno);

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
