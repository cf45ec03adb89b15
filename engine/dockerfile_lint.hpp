// Pitfalls that can be read from a Dockerfile before anything is built (`kiln lint`, and the
// warnings at the start of `kiln build`): credentials in ENV/ARG, a whole-context COPY before a
// dependency install (every edit redoes the install), a build toolchain left in the only stage,
// package-manager caches a RUN leaves behind, and context files `kiln scan` would flag that a
// COPY/ADD takes into the image. A finding names the instruction and the path, never a value.
// Pitfalls only the built layers show are engine/build_layer_check.hpp's.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/build_ignore.hpp"
#include "engine/dockerfile_parser.hpp"

namespace kiln::engine {

struct BuildFinding {
  std::string rule;     // secret-env, secret-copied, secret-deleted-later, secret-in-layer,
                        // copy-before-install, toolchain-in-final-stage, package-cache,
                        // deleted-later, layer-unchecked
  std::string where;    // "Dockerfile:4: RUN"
  int line = 0;         // of that instruction, 0 when none
  std::string path;     // the file concerned, "" when none
  std::string message;  // one line, without `where`
};

struct LintOptions {
  // The build context: when set, COPY/ADD sources are checked against what `kiln scan` flags
  // in it (minus .dockerignore).
  std::string context;
  const IgnoreRules* ignore = nullptr;
  // During a build the built layers are checked instead, more exactly: no package-cache and
  // secret-copied guesses from the text.
  bool layers_checked_later = false;
  std::string target;  // the final stage's name; "" for the last stage
};

std::vector<BuildFinding> lint_dockerfile(const Dockerfile& df, const LintOptions& options);

// "Dockerfile:4: RUN: message".
std::string describe(const BuildFinding& f);
nlohmann::json build_findings_json(const std::vector<BuildFinding>& findings);
// The inverse; nullopt when j is not such a list (a corrupt cache file is recomputed).
std::optional<std::vector<BuildFinding>> build_findings_from_json(const nlohmann::json& j);

// One simple command of a RUN's shell text, as far as a package manager is concerned: the
// program's base name (after sudo/env/VAR=x) and its words with quotes removed. Linear in
// the text's length whatever it holds (no regex).
struct ShellCommand {
  std::string program;
  std::vector<std::string> words;  // after the program
};
std::vector<ShellCommand> shell_commands(std::string_view text);

}  // namespace kiln::engine
