#include "common/check_findings.hpp"

#include <algorithm>
#include <filesystem>

#include "common/error.hpp"

namespace kiln {

void FindingList::note(std::string what, const std::function<void()>& fix) {
  Finding f{std::move(what), false};
  if (repair_) {
    try {
      fix();
      f.repaired = true;
    } catch (const Error& e) {
      f.what += " (repair failed: " + std::string(e.what()) + ")";
    }
  }
  items_.push_back(std::move(f));
}

std::vector<std::string> dir_entry_names(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) out.push_back(e.path().filename());
  std::sort(out.begin(), out.end());
  return out;
}

bool is_sha256_hex(std::string_view s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

}  // namespace kiln
