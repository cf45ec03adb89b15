// Environment from the command line without values on it (`ps` shows argv to every user):
//   -e NAME          takes NAME from kiln's own environment
//   --env-file FILE  docker's format: one KEY=VALUE per line, the value taken literally (no
//                    quotes or escapes are interpreted, like docker); lines whose first
//                    non-blank character is '#' and blank lines are skipped; a bare KEY takes
//                    KEY from kiln's environment and is left out when kiln has none.
// Errors name the file and line, and the key when it is the problem, never a value.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::runtime {

// Looks a variable up in kiln's environment (getenv by default; tests pass their own).
using EnvLookup = std::function<std::optional<std::string>(const std::string& key)>;
EnvLookup process_env_lookup();

// Parses the text of an env file; `file` is only for messages. Returns "KEY=VALUE" entries in
// file order.
std::vector<std::string> parse_env_file_text(std::string_view text, const std::string& file, const EnvLookup& lookup);
// Reads and parses FILE; an unreadable file throws "--env-file FILE: reason".
std::vector<std::string> read_env_file(const std::string& file, const EnvLookup& lookup);

// One `-e` value: "K=V" stays as is; a bare "K" becomes "K=<kiln's K>" or nullopt when kiln
// has no K (docker drops it too). Throws for an empty or malformed key.
std::optional<std::string> resolve_env_flag(std::string_view flag, const EnvLookup& lookup);

}  // namespace kiln::runtime
