// kiln: what a person types. Parse, dispatch, print one error line; exit codes follow docker
// (125 kiln itself failed, 126 cannot execute, 127 not found, else the container's status).
#include <cstdlib>

#include "cli/command_registry.hpp"

int main(int argc, char** argv) {
  using namespace kiln;
  auto& g = cli::globals();
  const char* env_root = std::getenv("KILN_ROOT");
  g.root = env_root && *env_root ? env_root : "/var/lib/kiln";
  cli::Program app{"kiln: run containers from local images", "kiln"};
  app.set_version_flag("--version", "kiln version 0.1.0");
  app.add_option("--root", g.root, "image and secret store (default /var/lib/kiln, or $KILN_ROOT)");
  app.add_option("--log", g.log_file, "log file (default: stderr)");
  app.add_option("--log-format", g.log_format, "text or json").one_of({"text", "json"});
  app.add_flag("--debug", g.debug, "debug logging");
  app.require_subcommand(1);
  return cli::dispatch(app, argc, argv, {"kiln", 125, {"run", "exec", "build"}, true});
}
