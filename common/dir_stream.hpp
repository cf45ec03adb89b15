// readdir(3) over a directory fd, owned: the stream reads a duplicate of the fd (the caller
// keeps its own) and closes itself. "." and ".." are skipped.
#pragma once
#include <dirent.h>

#include <string>

namespace kiln {

class DirStream {
 public:
  // Throws kiln::Error("read directory <what>: ...").
  DirStream(int dir_fd, const std::string& what);
  ~DirStream();
  DirStream(const DirStream&) = delete;
  DirStream& operator=(const DirStream&) = delete;
  // The next entry, or nullptr at the end.
  const struct dirent* next();

 private:
  DIR* dir_ = nullptr;
};

}  // namespace kiln
