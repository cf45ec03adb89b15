#include "image/store_lock.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>

#include "common/error.hpp"
#include "common/files.hpp"

namespace kiln::image {

StoreLock::StoreLock(const std::string& path, Mode mode) : fd_(open_file(path, O_RDWR | O_CREAT, 0600)) {
  int op = mode == Mode::shared ? LOCK_SH : LOCK_EX;
  while (::flock(fd_.get(), op) != 0) {
    if (errno != EINTR) throw_errno("lock " + path);
  }
}

TempDir::TempDir(const std::string& tmp_root) {
  std::string tmpl = tmp_root + "/" + std::to_string(::getpid()) + "-XXXXXX";
  if (!::mkdtemp(tmpl.data())) throw_errno("create temporary directory in " + tmp_root);
  path_ = tmpl;
}

TempDir::~TempDir() {
  try {
    remove_tree(path_);
  } catch (...) {
    // Best effort: a later load removes leftovers of dead processes.
  }
}

void clean_stale_temp(const std::string& tmp_root) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(tmp_root, ec)) {
    std::string name = entry.path().filename();
    auto dash = name.find('-');
    if (dash == std::string::npos) continue;
    pid_t pid = static_cast<pid_t>(std::atoi(name.substr(0, dash).c_str()));
    if (pid <= 0 || (::kill(pid, 0) != 0 && errno == ESRCH)) {
      try {
        remove_tree(entry.path());
      } catch (...) {
      }
    }
  }
}

}  // namespace kiln::image
