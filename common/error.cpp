#include "common/error.hpp"

#include <cstring>

namespace kiln {

Error Error::wrapped(std::string_view context) const {
  std::string message(context);
  message += ": ";
  message += what();
  return Error(message, errno_, kind_, origin_);
}

void throw_errno(std::string_view what, int err, ErrorKind kind) {
  std::string message(what);
  message += ": ";
  message += std::strerror(err);
  throw Error(message, err, kind);
}

}  // namespace kiln
