// kiln exec [-i] [-t] [-d] [-e K=V] [-u USER] [-w DIR] CONTAINER CMD... (engine/exec.hpp).
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "cli/command_registry.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "engine/exec.hpp"

namespace {

struct Opts {
  kiln::engine::ExecRequest req;
  bool interactive = false;
};

kiln::cli::RegisterCommand reg("exec", "Run a command in a running container",
                               [](kiln::cli::Command& sub) -> kiln::cli::Action {
                                 auto o = std::make_shared<Opts>();
                                 sub.add_flag("-i,--interactive", o->interactive, "keep stdin attached");
                                 sub.add_flag("-t,--tty", o->req.tty, "allocate a terminal");
                                 sub.add_flag("-d,--detach", o->req.detach, "do not wait for the command");
                                 sub.add_option("-e,--env", o->req.env, "KEY=VALUE").one_value_per_flag();
                                 sub.add_option("-u,--user", o->req.user, "UID[:GID]");
                                 sub.add_option("-w,--workdir", o->req.workdir, "working directory");
                                 sub.add_option("CONTAINER", o->req.container, "name or id").required();
                                 sub.prefix_command();
                                 return [o, sub] {
                                   o->req.args = sub.remaining();
                                   if (!o->interactive && !o->req.tty) {
                                     kiln::UniqueFd null = kiln::open_file("/dev/null", O_RDONLY);
                                     ::dup2(null.get(), 0);
                                   }
                                   try {
                                     return kiln::engine::exec(o->req);
                                   } catch (const kiln::Error& e) {
                                     if (e.kind() == kiln::ErrorKind::exec) {
                                       std::fprintf(stderr, "kiln: exec %s: %s\n", o->req.container.c_str(),
                                                    e.origin().c_str());
                                       return e.code() == ENOENT ? 127 : 126;
                                     }
                                     throw;
                                   }
                                 };
                               });

}  // namespace
