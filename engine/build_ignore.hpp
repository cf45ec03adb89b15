// .dockerignore: which context paths a build never sees. Docker's rules: one pattern a line,
// `#` comments, a leading `!` re-includes, `**` matches any number of directories, the other
// wildcards are shell patterns within one path component; a path is excluded when it or one of
// its parent directories matches, and the last matching pattern decides.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace kiln::engine {

// Lexically cleaned components of a relative path ("./a//b/../c" -> {"a","c"}); nullopt-like
// empty result with climbs_out = true when ".." goes above the start.
struct CleanPath {
  std::vector<std::string> parts;
  bool climbs_out = false;
  std::string str() const;  // "a/c", "" for the root
};
CleanPath clean_relative(std::string_view path);

// True when the pattern (components, may hold * ? [..] and `**`) matches the path exactly.
bool glob_match(const std::vector<std::string>& pattern, const std::vector<std::string>& path);
bool has_glob(std::string_view s);

class IgnoreRules {
 public:
  static IgnoreRules parse(std::string_view text);
  // rel: a cleaned context-relative path ("a/b").
  bool excluded(const std::string& rel) const;
  bool empty() const { return rules_.empty(); }

 private:
  struct Rule {
    std::vector<std::string> pattern;
    bool exclude = true;
  };
  std::vector<Rule> rules_;
};

}  // namespace kiln::engine
