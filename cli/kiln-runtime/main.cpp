// kiln-runtime: an OCI runtime with runc's command line. Global flags, then the shared
// dispatch (cli/command_registry.hpp): exit statuses as runc's.
#include "cli/command_registry.hpp"
#include "runtime/container_cgroup.hpp"
#include "runtime/version.hpp"

int main(int argc, char** argv) {
  using namespace kiln;
  auto& g = cli::globals();
  g.root = runtime::default_state_root();
  cli::Program app{"kiln-runtime: an OCI container runtime (runc's command line)", "kiln-runtime"};
  app.set_version_flag("-v,--version", runtime::version_text());
  app.add_option("--root", g.root, "directory for container state");
  app.add_option("--log", g.log_file, "log file (default: stderr)");
  app.add_option("--log-format", g.log_format, "text or json").one_of({"text", "json"});
  app.add_flag("--debug", g.debug, "debug logging");
  app.add_flag("--systemd-cgroup", g.systemd_cgroup, "use systemd cgroups (not supported: no systemd)");
  app.add_ignored_option("--rootless", "accepted for runc compatibility (true/false/auto)");
  app.add_ignored_option("--criu", "accepted for runc compatibility");
  app.require_subcommand(1);
  return cli::dispatch(app, argc, argv, {"kiln-runtime", 1, {"run", "create", "exec"}, false});
}
