// Commands register themselves: each cli/<tool>/<verb>.cpp holds one static RegisterCommand
// that adds its subcommand and returns the action to run. main.cpp only parses and dispatches.
#pragma once
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "cli/args.hpp"

namespace kiln::cli {

// Options every command of a tool may read (set by main before the action runs).
struct Globals {
  std::string root;  // kiln-runtime: state dir; kiln: store dir
  std::string log_file;
  std::string log_format = "text";
  bool debug = false;
  bool systemd_cgroup = false;
};
Globals& globals();

// The action returns the process exit status; failures throw kiln::Error.
using Action = std::function<int()>;
using Setup = std::function<Action(Command& sub)>;

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

// Adds the registered command named `only` to app, or every one when no command has that name
// (for --help and for the error that names an unknown command); returns each command added
// with its action, for dispatch. Setting up all of kiln's commands' options takes 0.5 ms, and
// a container start runs main twice (the sealed re-exec).
std::vector<std::pair<Command, Action>> install_commands(Command& app, const std::string& only = "");

// What differs between the two tools' mains.
struct Tool {
  const char* name;                    // "kiln", "kiln-runtime": the prefix of error lines
  int failure_status;                  // its own failures: 125 (kiln, as docker) or 1 (runc)
  std::vector<const char*> entering;   // commands that put a process into a container
  bool parse_errors_are_failures;      // kiln: a bad flag is 125; kiln-runtime: CLI11's status
  std::function<void()> prepare = {};  // after parsing, before anything else (kiln: its session)
};

// Parses, re-executes from a sealed copy for the commands that enter containers, sets up
// logging, runs the chosen command and turns a kiln::Error into one line on stderr (and one in
// the --log file) and the tool's failure status.
int dispatch(Program& app, int argc, char** argv, const Tool& tool);

}  // namespace kiln::cli
