#include "runtime/exec_path.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include "common/error.hpp"

namespace kiln::runtime {
namespace {

bool is_executable_file(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

}  // namespace

std::string resolve_executable(const std::string& arg0, const std::vector<std::string>& env) {
  if (arg0.find('/') != std::string::npos) {
    struct stat st;
    if (::stat(arg0.c_str(), &st) != 0) throw_errno("exec: \"" + arg0 + "\": stat " + arg0, errno, ErrorKind::exec);
    if (S_ISDIR(st.st_mode)) throw Error("exec: \"" + arg0 + "\": is a directory", EISDIR, ErrorKind::exec);
    if (::access(arg0.c_str(), X_OK) != 0) throw_errno("exec: \"" + arg0 + "\"", errno, ErrorKind::exec);
    return arg0;
  }
  std::string path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (const auto& e : env)
    if (e.rfind("PATH=", 0) == 0) path = e.substr(5);
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    start = end + 1;
    if (dir.empty()) continue;
    std::string candidate = (dir[0] == '/' ? "" : "/") + dir + "/" + arg0;
    if (is_executable_file(candidate)) return candidate;
  }
  // podman maps "no such file or directory" in the runtime's error to 127; kiln shows runc's words.
  std::string shown = "exec: \"" + arg0 + "\": executable file not found in $PATH";
  throw Error(shown + ": no such file or directory", ENOENT, ErrorKind::exec, shown);
}

}  // namespace kiln::runtime
