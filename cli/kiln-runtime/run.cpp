// kiln-runtime run: create + start; in the foreground, wait and exit with the container's status.
#include "cli/command_registry.hpp"
#include "runtime/lifecycle.hpp"

namespace {
struct Opts {
  kiln::runtime::CreateOptions create{.bundle = "."};  // initialized, not assigned: see create.cpp
  bool detach = false;
};
kiln::cli::RegisterCommand reg("run", "create and start a container", [](kiln::cli::Command& sub) -> kiln::cli::Action {
  auto o = std::make_shared<Opts>();
  sub.add_option("-b,--bundle", o->create.bundle, "bundle directory");
  sub.add_option("--pid-file", o->create.pid_file, "write the init's pid here");
  sub.add_option("--console-socket", o->create.console_socket, "unix socket that receives the pty master");
  sub.add_option("--preserve-fds", o->create.preserve_fds, "pass N extra fds (3..3+N-1)");
  sub.add_flag("--no-pivot", o->create.no_pivot, "chroot instead of pivot_root");
  sub.add_flag("--no-new-keyring", o->create.no_new_keyring, "keep the caller's session keyring");
  sub.add_flag("-d,--detach", o->detach, "do not wait for the container");
  sub.add_option("id", o->create.id, "container id").required();
  return [o] {
    o->create.root = kiln::cli::globals().root;
    return kiln::runtime::run_container(o->create, o->detach);
  };
});
}  // namespace
