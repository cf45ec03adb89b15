#include "runtime/home_env.hpp"

#include <fcntl.h>

#include <algorithm>

#include "common/account_db.hpp"
#include "common/error.hpp"
#include "common/unique_fd.hpp"

namespace kiln::runtime {

void add_home_if_unset(std::vector<std::string>& env, uid_t uid) {
  if (std::any_of(env.begin(), env.end(), [](const std::string& e) { return e.rfind("HOME=", 0) == 0; })) return;
  std::string home = "/";
  UniqueFd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  // An unreadable or hostile /etc/passwd (a FIFO, a huge file) gives no home, as a missing one:
  // HOME is a convenience, and the process's identity does not depend on it.
  if (root) {
    try {
      if (auto h = home_of_uid(root.get(), uid)) home = *h;
    } catch (const Error&) {
    }
  }
  env.push_back("HOME=" + home);
}

}  // namespace kiln::runtime
