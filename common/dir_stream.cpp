#include "common/dir_stream.hpp"

#include <fcntl.h>

#include <cstring>

#include "common/error.hpp"
#include "common/unique_fd.hpp"

namespace kiln {

DirStream::DirStream(int dir_fd, const std::string& what) {
  UniqueFd dup(::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0));
  if (!dup) throw_errno("read directory " + what + ": dup");
  dir_ = ::fdopendir(dup.get());
  if (!dir_) throw_errno("read directory " + what);
  dup.release();  // the DIR owns it now
}

DirStream::~DirStream() {
  if (dir_) ::closedir(dir_);
}

const struct dirent* DirStream::next() {
  while (const struct dirent* e = ::readdir(dir_)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) return e;
  }
  return nullptr;
}

}  // namespace kiln
