#include "engine/build_ignore.hpp"

#include <fnmatch.h>

namespace kiln::engine {
namespace {

std::string_view ign_trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Dynamic programming over (pattern component, path component): at most |p|*|s| fnmatch calls,
// whatever the pattern (a backtracking matcher is exponential in the number of `**`).
// match[i][j]: components p[i..] match s[j..].
bool match_components(const std::vector<std::string>& p, const std::vector<std::string>& s) {
  const size_t n = s.size();
  std::vector<char> next(n + 1, 0), cur(n + 1, 0);
  next[n] = 1;  // the empty pattern matches only the empty rest
  for (size_t i = p.size(); i-- > 0;) {
    if (p[i] == "**") {
      // `**` takes any number of components: match[i][j] = OR over k >= j of match[i+1][k].
      cur[n] = next[n];
      for (size_t j = n; j-- > 0;) cur[j] = static_cast<char>(next[j] || cur[j + 1]);
    } else {
      cur[n] = 0;
      for (size_t j = 0; j < n; ++j)
        cur[j] = static_cast<char>(next[j + 1] && ::fnmatch(p[i].c_str(), s[j].c_str(), 0) == 0);
    }
    std::swap(cur, next);
  }
  return next[0] != 0;
}

}  // namespace

std::string CleanPath::str() const {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : "/") + p;
  return out;
}

CleanPath clean_relative(std::string_view path) {
  CleanPath c;
  size_t i = 0;
  while (i <= path.size()) {
    size_t slash = path.find('/', i);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view part = path.substr(i, slash - i);
    if (part == "..") {
      if (c.parts.empty()) c.climbs_out = true;
      else c.parts.pop_back();
    } else if (!part.empty() && part != ".") {
      c.parts.emplace_back(part);
    }
    i = slash + 1;
  }
  return c;
}

bool has_glob(std::string_view s) { return s.find_first_of("*?[") != std::string_view::npos; }

bool glob_match(const std::vector<std::string>& pattern, const std::vector<std::string>& path) {
  return match_components(pattern, path);
}

IgnoreRules IgnoreRules::parse(std::string_view text) {
  IgnoreRules r;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = ign_trim(text.substr(pos, nl - pos));
    pos = nl + 1;
    if (line.empty() || line[0] == '#') continue;
    Rule rule;
    if (line[0] == '!') {
      rule.exclude = false;
      line = ign_trim(line.substr(1));
    }
    CleanPath c = clean_relative(line);
    if (c.parts.empty()) continue;
    rule.pattern = std::move(c.parts);
    r.rules_.push_back(std::move(rule));
  }
  return r;
}

bool IgnoreRules::excluded(const std::string& rel) const {
  std::vector<std::string> parts = clean_relative(rel).parts;
  bool out = false;
  for (const auto& rule : rules_) {
    // The path or one of its parents.
    for (size_t n = parts.size(); n >= 1; --n) {
      std::vector<std::string> prefix(parts.begin(), parts.begin() + static_cast<long>(n));
      if (glob_match(rule.pattern, prefix)) {
        out = rule.exclude;
        break;
      }
    }
  }
  return out;
}

}  // namespace kiln::engine
