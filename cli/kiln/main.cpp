// kiln: what a person types. Parse, dispatch, print one error line; exit codes follow docker
// (125 kiln itself failed, 126 cannot execute, 127 not found, else the container's status).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "cli/command_registry.hpp"
#include "common/user_namespace.hpp"
#include "engine/records.hpp"
#include "engine/rootless_session.hpp"

int main(int argc, char** argv) {
  using namespace kiln;
  auto& g = cli::globals();
  // An ordinary user (rootless): the store and run root are the user's own (set in the
  // environment, which a re-executed kiln inside the session inherits), and every command runs
  // in the user's session namespaces (engine/rootless_session.hpp).
  const bool rootless = ::geteuid() != 0 && in_initial_user_namespace();
  if (rootless) {
    if (!std::getenv("KILN_RUN_ROOT")) ::setenv("KILN_RUN_ROOT", engine::rootless_run_root().c_str(), 1);
    if (!std::getenv("KILN_ROOT")) ::setenv("KILN_ROOT", engine::rootless_store_root().c_str(), 1);
  }
  const char* env_root = std::getenv("KILN_ROOT");
  g.root = env_root && *env_root ? env_root : "/var/lib/kiln";
  cli::Program app{"kiln: run containers from local images", "kiln"};
  app.set_version_flag("--version", "kiln version 0.1.0");
  app.add_option("--root", g.root, "image and secret store (default /var/lib/kiln, or $KILN_ROOT)");
  app.add_option("--log", g.log_file, "log file (default: stderr)");
  app.add_option("--log-format", g.log_format, "text or json").one_of({"text", "json"});
  app.add_flag("--debug", g.debug, "debug logging");
  app.require_subcommand(1);
  auto enter_session = [rootless] {
    if (!rootless) return;
    auto session = engine::enter_rootless_session(engine::default_run_root());
    if (!session.warning.empty()) std::fprintf(stderr, "kiln: warning: %s\n", session.warning.c_str());
  };
  return cli::dispatch(app, argc, argv, {"kiln", 125, {"run", "exec", "build"}, true, enter_session});
}
