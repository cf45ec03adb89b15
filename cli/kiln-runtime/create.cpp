// kiln-runtime create: set the container up, leave its init waiting for `start`.
#include "cli/command_registry.hpp"
#include "runtime/lifecycle.hpp"

namespace {
kiln::cli::RegisterCommand reg("create", "create a container", [](kiln::cli::Command& sub) -> kiln::cli::Action {
  // Initialized, not assigned: GCC 12 warns about `o->bundle = "."`, a false positive (the top
  // CMakeLists.txt names the GCC bugs).
  auto o = std::make_shared<kiln::runtime::CreateOptions>(kiln::runtime::CreateOptions{.bundle = "."});
  sub.add_option("-b,--bundle", o->bundle, "bundle directory");
  sub.add_option("--pid-file", o->pid_file, "write the init's pid here");
  sub.add_option("--console-socket", o->console_socket, "unix socket that receives the pty master");
  sub.add_option("--preserve-fds", o->preserve_fds, "pass N extra fds (3..3+N-1)");
  sub.add_flag("--no-pivot", o->no_pivot, "move the rootfs to / and chroot instead of pivot_root");
  sub.add_flag("--no-new-keyring", o->no_new_keyring, "keep the caller's session keyring");
  sub.add_option("id", o->id, "container id").required();
  return [o] {
    o->root = kiln::cli::globals().root;
    kiln::runtime::create_container(*o);
    return 0;
  };
});
}  // namespace
