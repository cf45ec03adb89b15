// Commands register themselves: each cli/<tool>/<verb>.cpp holds one static RegisterCommand
// that adds its subcommand and returns the action to run. main.cpp only parses and dispatches.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace kiln::cli {

// Options every command of a tool may read (set by main before the action runs).
struct Globals {
  std::string root;          // kiln-runtime: state dir; kiln: store dir
  std::string log_file;
  std::string log_format = "text";
  bool debug = false;
  bool systemd_cgroup = false;
};
Globals& globals();

// The action returns the process exit status; failures throw kiln::Error.
using Action = std::function<int()>;
using Setup = std::function<Action(CLI::App& sub)>;

struct CommandInfo {
  std::string name;
  std::string help;
  Setup setup;
};

std::vector<CommandInfo>& registered_commands();

struct RegisterCommand {
  RegisterCommand(std::string name, std::string help, Setup setup) {
    registered_commands().push_back({std::move(name), std::move(help), std::move(setup)});
  }
};

// Adds every registered command to app; returns name -> action for dispatch.
std::vector<std::pair<CLI::App*, Action>> install_commands(CLI::App& app);

}  // namespace kiln::cli
