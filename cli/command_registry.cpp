#include "cli/command_registry.hpp"

#include <algorithm>

namespace kiln::cli {

Globals& globals() {
  static Globals g;
  return g;
}

std::vector<CommandInfo>& registered_commands() {
  static std::vector<CommandInfo> commands;
  return commands;
}

std::vector<std::pair<CLI::App*, Action>> install_commands(CLI::App& app) {
  auto& commands = registered_commands();
  std::sort(commands.begin(), commands.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  std::vector<std::pair<CLI::App*, Action>> out;
  for (auto& c : commands) {
    CLI::App* sub = app.add_subcommand(c.name, c.help);
    out.emplace_back(sub, c.setup(*sub));
  }
  return out;
}

}  // namespace kiln::cli
