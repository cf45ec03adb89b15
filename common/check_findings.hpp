// What a consistency check (`kiln system check`, the image store's check) reports: one line per
// inconsistency, and whether --repair fixed it. Shared by the engine's and the store's checks so
// both report and repair the same way.
#pragma once
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln {

struct Finding {
  std::string what;       // one line: "layer 3f2a...: unreferenced (left by a load that died)"
  bool repaired = false;  // --repair fixed it
};

class FindingList {
 public:
  explicit FindingList(bool repair) : repair_(repair) {}
  bool repairing() const { return repair_; }
  // Records what; when repairing, runs fix and records whether it worked (with its error if not).
  void note(std::string what, const std::function<void()>& fix);
  void add(Finding f) { items_.push_back(std::move(f)); }
  std::vector<Finding> take() { return std::move(items_); }

 private:
  bool repair_;
  std::vector<Finding> items_;
};

// The names in dir, sorted; none when it cannot be read (a check reports what is there).
std::vector<std::string> dir_entry_names(const std::string& dir);

// 64 lower-case hex digits: a sha256 digest's hex, a layer's chain id, a container id.
bool is_sha256_hex(std::string_view s);

}  // namespace kiln
