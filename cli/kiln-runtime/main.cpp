// kiln-runtime: an OCI runtime with runc's command line. Parse, dispatch, print one error line.
#include <spdlog/spdlog.h>

#include <cstdio>

#include "cli/command_registry.hpp"
#include "common/error.hpp"
#include "common/logging.hpp"
#include "common/sealed_exe.hpp"
#include "runtime/version.hpp"

int main(int argc, char** argv) {
  using namespace kiln;
  auto& g = cli::globals();
  g.root = "/run/kiln-runtime";
  CLI::App app{"kiln-runtime: an OCI container runtime (runc's command line)", "kiln-runtime"};
  app.set_version_flag("-v,--version", runtime::version_text());
  app.add_option("--root", g.root, "directory for container state");
  app.add_option("--log", g.log_file, "log file (default: stderr)");
  app.add_option("--log-format", g.log_format, "text or json")->check(CLI::IsMember({"text", "json"}));
  app.add_flag("--debug", g.debug, "debug logging");
  app.add_flag("--systemd-cgroup", g.systemd_cgroup, "use systemd cgroups (not supported: no systemd)");
  app.add_option("--rootless", "accepted for runc compatibility (true/false/auto)");
  app.add_option("--criu", "accepted for runc compatibility");
  app.require_subcommand(1);
  auto actions = cli::install_commands(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  // Commands that clone a process into a container run from a sealed copy of this binary.
  for (const char* name : {"run", "create", "exec"}) {
    if (!app.got_subcommand(name)) continue;
    try {
      reexec_from_sealed_exe(argv);
    } catch (const Error& e) {
      std::fprintf(stderr, "kiln-runtime: %s\n", e.what());
      return 1;
    }
  }
  try {
    setup_logging({g.log_file, parse_log_format(g.log_format), g.debug, false});
  } catch (const Error& e) {
    std::fprintf(stderr, "kiln-runtime: %s\n", e.what());
    return 1;
  }

  for (auto& [sub, action] : actions) {
    if (!sub->parsed()) continue;
    try {
      return action();
    } catch (const Error& e) {
      // One line in the log (podman reads exactly one JSON object), one on stderr.
      if (!g.log_file.empty()) spdlog::error("{}", e.what());
      std::fprintf(stderr, "kiln-runtime: %s\n", e.what());
      return 1;
    } catch (const std::exception& e) {
      if (!g.log_file.empty()) spdlog::error("{}", e.what());
      std::fprintf(stderr, "kiln-runtime: internal error: %s\n", e.what());
      return 1;
    }
  }
  return 1;
}
