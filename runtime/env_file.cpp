#include "runtime/env_file.hpp"

#include <cstdlib>

#include "common/error.hpp"
#include "common/files.hpp"

namespace kiln::runtime {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

// Docker refuses keys with whitespace and empty keys; anything else (dots, dashes) is
// accepted since programs may read such variables.
std::optional<std::string> key_problem(std::string_view key) {
  if (key.empty()) return "empty variable name";
  for (char c : key)
    if (is_space(c)) return "variable name \"" + std::string(key) + "\" contains whitespace";
  return std::nullopt;
}

}  // namespace

EnvLookup process_env_lookup() {
  return [](const std::string& key) -> std::optional<std::string> {
    const char* v = std::getenv(key.c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  };
}

std::vector<std::string> parse_env_file_text(std::string_view text, const std::string& file, const EnvLookup& lookup) {
  std::vector<std::string> out;
  size_t line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);  // files written on Windows
    size_t start = 0;
    while (start < line.size() && is_space(line[start])) ++start;
    line.remove_prefix(start);
    if (line.empty() || line[0] == '#') continue;
    if (line.find('\0') != std::string_view::npos)
      throw Error("--env-file " + file + " line " + std::to_string(line_no) + ": contains a NUL byte");
    size_t eq = line.find('=');
    std::string_view key = line.substr(0, eq);
    if (eq == std::string_view::npos) {
      while (!key.empty() && is_space(key.back())) key.remove_suffix(1);
    }
    if (auto why = key_problem(key))
      throw Error("--env-file " + file + " line " + std::to_string(line_no) + ": " + *why);
    if (eq != std::string_view::npos) {
      out.emplace_back(line);
    } else if (auto v = lookup(std::string(key))) {
      out.push_back(std::string(key) + "=" + *v);
    }
  }
  return out;
}

std::vector<std::string> read_env_file(const std::string& file, const EnvLookup& lookup) {
  std::string text = with_context("--env-file " + file, [&] { return read_file(file); });
  return parse_env_file_text(text, file, lookup);
}

std::optional<std::string> resolve_env_flag(std::string_view flag, const EnvLookup& lookup) {
  size_t eq = flag.find('=');
  std::string_view key = flag.substr(0, eq);
  if (auto why = key_problem(key)) throw Error("-e: " + *why);
  if (eq != std::string_view::npos) return std::string(flag);
  auto v = lookup(std::string(key));
  if (!v) return std::nullopt;
  return std::string(key) + "=" + *v;
}

}  // namespace kiln::runtime
