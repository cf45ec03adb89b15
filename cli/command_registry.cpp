#include "cli/command_registry.hpp"

#include <spdlog/spdlog.h>

#include <stdlib.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <cstdio>
#include <optional>

#include "common/error.hpp"
#include "common/logging.hpp"
#include "common/sealed_exe.hpp"
#include "common/stage_clock.hpp"

namespace kiln::cli {

Globals& globals() {
  static Globals g;
  return g;
}

std::vector<CommandInfo>& registered_commands() {
  static std::vector<CommandInfo> commands;
  return commands;
}

std::vector<std::pair<Command, Action>> install_commands(Command& app, const std::string& only) {
  auto& commands = registered_commands();
  std::sort(commands.begin(), commands.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  bool known = std::any_of(commands.begin(), commands.end(), [&](const auto& c) { return c.name == only; });
  std::vector<std::pair<Command, Action>> out;
  for (auto& c : commands) {
    if (known && c.name != only) continue;
    Command sub = app.add_subcommand(c.name, c.help);
    out.emplace_back(sub, c.setup(sub));
  }
  return out;
}

namespace {
// --debug across the sealed re-exec: when the first process began, for the first stage line.
constexpr const char* kMainStageEnv = "_KILN_STAGE_MAIN";

void log_main_stage(int64_t entered) {
  const char* first = std::getenv(kMainStageEnv);
  if (!first) return log_stage("main", entered);
  int64_t before = std::strtoll(first, nullptr, 10);
  ::unsetenv(kMainStageEnv);  // no child of ours may inherit it
  log_stage("main", before);
  if (before != entered) log_stage("main (sealed copy)", entered);
}
}  // namespace

int dispatch(Program& app, int argc, char** argv, const Tool& tool) {
  const int64_t entered = monotonic_us();
  const std::string command = app.first_positional(argc, argv);
  // Commands that clone a process into a container run from a sealed copy of this binary. The
  // copy is exec'd before the line is parsed: the copy parses it (and says what is wrong with
  // it) all the same, and parsing it twice costs every start a few hundred µs.
  const bool entering =
      std::any_of(tool.entering.begin(), tool.entering.end(), [&](const char* name) { return command == name; });
  if (entering) {
    try {
      if (!running_from_sealed_exe()) {
        // For --debug's first stage line; the copy removes it before anything can inherit it.
        ::setenv(kMainStageEnv, std::to_string(entered).c_str(), 1);
        if (tool.prepare) tool.prepare();
      }
      reexec_from_sealed_exe(argv);  // in the sealed copy: drops its marker and returns
    } catch (const Error& e) {
      std::fprintf(stderr, "%s: %s\n", tool.name, e.what());
      return tool.failure_status;
    }
  }
  auto actions = install_commands(app, command);
  auto& g = globals();
  if (std::optional<int> rc = app.parse(argc, argv))  // CLI11 has printed why
    return tool.parse_errors_are_failures && *rc != 0 ? tool.failure_status : *rc;
  try {
    if (tool.prepare) tool.prepare();
    // The parser chose an entering command that the first positional did not name: seal now.
    if (!entering)
      for (const char* name : tool.entering)
        if (app.got_subcommand(name)) reexec_from_sealed_exe(argv);
    setup_logging({g.log_file, parse_log_format(g.log_format), g.debug, false});
    log_main_stage(entered);
  } catch (const Error& e) {
    std::fprintf(stderr, "%s: %s\n", tool.name, e.what());
    return tool.failure_status;
  }
  for (auto& [sub, action] : actions) {
    if (!sub.parsed()) continue;
    try {
      return action();
    } catch (const Error& e) {
      // One line in the log (podman reads exactly one JSON object), one on stderr.
      if (!g.log_file.empty()) spdlog::error("{}", e.what());
      std::fprintf(stderr, "%s: %s\n", tool.name, e.what());
      return tool.failure_status;
    } catch (const std::exception& e) {
      if (!g.log_file.empty()) spdlog::error("{}", e.what());
      std::fprintf(stderr, "%s: internal error: %s\n", tool.name, e.what());
      return tool.failure_status;
    }
  }
  return tool.failure_status;
}

}  // namespace kiln::cli
