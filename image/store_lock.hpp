// flock(2)-based locks on files in the store. Loads hold the store lock shared (they may run
// side by side: every write they make is an atomic rename of a complete directory or file),
// rmi/gc hold it exclusive (they delete). The names lock serialises edits of image records.
#pragma once
#include <string>

#include "common/unique_fd.hpp"

namespace kiln::image {

class StoreLock {
 public:
  enum class Mode { shared, exclusive };
  StoreLock(const std::string& path, Mode mode);  // blocks until granted
                                                  // Released when the fd closes.

 private:
  UniqueFd fd_;
};

// A directory under the store's tmp/ that is removed on destruction unless released.
// Named "<pid>-XXXXXX" so a later load can tell a crashed process's leftovers from a live one's.
class TempDir {
 public:
  explicit TempDir(const std::string& tmp_root);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Removes tmp/<pid>-* entries whose process is gone (a crash mid-load).
void clean_stale_temp(const std::string& tmp_root);

}  // namespace kiln::image
