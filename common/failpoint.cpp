#ifdef KILN_FAILPOINTS
#include "common/failpoint.hpp"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common/error.hpp"

namespace kiln::failpoint {
namespace {

struct ArmedPoint {
  std::string name;
  bool kill = false;
  int err = EIO;
  long nth = 0;  // 0: every time
  long hits = 0;
};

int failpoint_errno(const std::string& text) {
  static const std::pair<const char*, int> names[] = {
      {"ENOSPC", ENOSPC}, {"EIO", EIO},       {"EPERM", EPERM},   {"EACCES", EACCES}, {"ENOMEM", ENOMEM},
      {"EBUSY", EBUSY},   {"EINTR", EINTR},   {"EAGAIN", EAGAIN}, {"ENOENT", ENOENT}, {"EEXIST", EEXIST},
      {"EDQUOT", EDQUOT}, {"EINVAL", EINVAL}, {"EROFS", EROFS},   {"EMFILE", EMFILE}};
  for (const auto& [n, v] : names)
    if (text == n) return v;
  int v = std::atoi(text.c_str());
  return v > 0 ? v : EIO;
}

std::vector<ArmedPoint>& armed_points() {
  static std::vector<ArmedPoint> points = [] {
    std::vector<ArmedPoint> out;
    const char* env = std::getenv("KILN_FAILPOINT");
    std::string all = env ? env : "";
    size_t pos = 0;
    while (pos < all.size()) {
      size_t comma = all.find(',', pos);
      std::string item = all.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
      pos = comma == std::string::npos ? all.size() : comma + 1;
      size_t colon = item.find(':');
      if (colon == std::string::npos || colon == 0) continue;
      ArmedPoint p;
      p.name = item.substr(0, colon);
      std::string action = item.substr(colon + 1);
      if (size_t at = action.find('@'); at != std::string::npos) {
        p.nth = std::atol(action.c_str() + at + 1);
        action.resize(at);
      }
      if (action == "kill") {
        p.kill = true;
      } else if (action.rfind("error", 0) == 0) {
        if (action.size() > 6 && action[5] == '=') p.err = failpoint_errno(action.substr(6));
      } else {
        continue;
      }
      out.push_back(std::move(p));
    }
    return out;
  }();
  return points;
}

bool listing() {
  static const bool on = [] {
    const char* e = std::getenv("KILN_FAILPOINT_LIST");
    return e && *e == '1';
  }();
  return on;
}

}  // namespace

void hit(const char* name) {
  if (listing()) {
    static std::vector<std::string> seen;
    bool first = true;
    for (const auto& s : seen) first = first && s != name;
    if (first) {
      seen.emplace_back(name);
      ::dprintf(2, "kiln-failpoint: %s\n", name);
    }
  }
  for (ArmedPoint& p : armed_points()) {
    if (p.name != name) continue;
    ++p.hits;
    if (p.nth > 0 && p.hits != p.nth) continue;
    if (p.kill) {
      // A pid namespace's init cannot SIGKILL itself (the kernel ignores it): the same
      // abrupt end without a signal (no destructor, no message, no flush).
      if (::getpid() != 1) ::kill(::getpid(), SIGKILL);
      ::_exit(137);
    }
    throw_errno(std::string("failpoint ") + name, p.err);
  }
}

}  // namespace kiln::failpoint
#endif
