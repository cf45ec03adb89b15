#include "engine/status_text.hpp"

#include <cstdio>
#include <ctime>

namespace kiln::engine {

int64_t seconds_since(const std::string& t) {
  if (t.size() < 19) return -1;
  struct tm tm = {};
  if (!::strptime(t.substr(0, 19).c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return -1;
  time_t then = ::timegm(&tm);
  time_t now = ::time(nullptr);
  return now >= then ? static_cast<int64_t>(now - then) : 0;
}

std::string human_duration(int64_t s) {
  auto plural = [](int64_t n, const char* unit) { return std::to_string(n) + " " + unit + (n == 1 ? "" : "s"); };
  if (s < 1) return "Less than a second";
  if (s < 60) return plural(s, "second");
  int64_t m = s / 60;
  if (m == 1) return "About a minute";
  if (m < 60) return plural(m, "minute");
  int64_t h = m / 60;
  if (h == 1) return "About an hour";
  if (h < 48) return plural(h, "hour");
  return plural(h / 24, "day");
}

std::string status_text(const RunRecord& r, const RunStatus& s) {
  if (s.state == "exited") {
    int64_t ago = seconds_since(r.finished);
    std::string code = s.exit_code ? std::to_string(*s.exit_code) : "unknown";
    // Appended piece by piece: GCC 12 at -O3 warns falsely (stringop-overflow) on "x" + string&&.
    std::string out = "Exited (" + code + ")";
    if (r.timed_out) out += " timeout";
    if (ago >= 0) {
      out += ' ';
      out += human_duration(ago);
      out += " ago";
    }
    return out;
  }
  if (s.state == "running") {
    int64_t up = seconds_since(r.started.empty() ? r.created : r.started);
    return "Up " + human_duration(up < 0 ? 0 : up);
  }
  if (s.state == "created") return "Created";
  return "Exited (unknown)";
}

std::string human_size(uint64_t b) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1000 && u < 4) {
    v /= 1000;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f%s" : "%.3g%s", v, units[u]);
  return buf;
}

}  // namespace kiln::engine
