// kiln: what a person types. Parse, dispatch, print one error line; exit codes follow docker
// (125 kiln itself failed, 126 cannot execute, 127 not found, else the container's status).
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>

#include "cli/command_registry.hpp"
#include "common/error.hpp"
#include "common/logging.hpp"
#include "common/sealed_exe.hpp"

int main(int argc, char** argv) {
  using namespace kiln;
  auto& g = cli::globals();
  const char* env_root = std::getenv("KILN_ROOT");
  g.root = env_root && *env_root ? env_root : "/var/lib/kiln";
  CLI::App app{"kiln: run containers from local images", "kiln"};
  app.set_version_flag("--version", "kiln version 0.1.0");
  app.add_option("--root", g.root, "image and secret store (default /var/lib/kiln, or $KILN_ROOT)");
  app.add_option("--log", g.log_file, "log file (default: stderr)");
  app.add_option("--log-format", g.log_format, "text or json")->check(CLI::IsMember({"text", "json"}));
  app.add_flag("--debug", g.debug, "debug logging");
  app.require_subcommand(1);
  auto actions = cli::install_commands(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 125;
  }
  // Commands that clone a process into a container run from a sealed copy of this binary.
  for (const char* name : {"run", "exec"}) {
    if (!app.got_subcommand(name)) continue;
    try {
      reexec_from_sealed_exe(argv);
    } catch (const Error& e) {
      std::fprintf(stderr, "kiln: %s\n", e.what());
      return 125;
    }
  }
  try {
    setup_logging({g.log_file, parse_log_format(g.log_format), g.debug, false});
  } catch (const Error& e) {
    std::fprintf(stderr, "kiln: %s\n", e.what());
    return 125;
  }
  for (auto& [sub, action] : actions) {
    if (!sub->parsed()) continue;
    try {
      return action();
    } catch (const Error& e) {
      if (!g.log_file.empty()) spdlog::error("{}", e.what());
      std::fprintf(stderr, "kiln: %s\n", e.what());
      return 125;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "kiln: internal error: %s\n", e.what());
      return 125;
    }
  }
  return 125;
}
