// kiln-runtime exec: run a process in a running container (--process FILE or args).
#include "cli/command_registry.hpp"
#include "runtime/exec_process.hpp"

namespace {
kiln::cli::RegisterCommand reg(
    "exec", "run a process in a running container", [](kiln::cli::Command& sub) -> kiln::cli::Action {
      auto o = std::make_shared<kiln::runtime::ExecOptions>();
      sub.add_option("-p,--process", o->process_file, "process.json to run");
      sub.add_flag("-t,--tty", o->tty, "allocate a pty");
      sub.add_option("--console-socket", o->console_socket, "unix socket that receives the pty master");
      sub.add_flag("-d,--detach", o->detach, "do not wait for the process");
      sub.add_option("--pid-file", o->pid_file, "write the process's pid here");
      sub.add_option("-e,--env", o->env, "KEY=VALUE (repeatable)").one_value_per_flag();
      sub.add_option("--cwd", o->cwd, "working directory");
      sub.add_option("-u,--user", o->user, "UID[:GID]");
      sub.add_option("-g,--additional-gids", o->additional_gids, "additional gids").one_value_per_flag();
      sub.add_option("-c,--cap", o->caps, "add a capability (repeatable)").one_value_per_flag();
      sub.add_flag("--no-new-privs", o->no_new_privs, "set no_new_privs");
      sub.add_option("--preserve-fds", o->preserve_fds, "pass N extra fds");
      sub.add_ignored_option("--process-label,--apparmor", "accepted for runc compatibility");
      sub.add_option("id", o->id, "container id").required();
      sub.prefix_command();  // everything after the id is the command, options included
      return [o, sub] {
        o->args = sub.remaining();
        o->root = kiln::cli::globals().root;
        return kiln::runtime::exec_in_container(*o);
      };
    });
}  // namespace
