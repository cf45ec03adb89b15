// kiln exec [-i] [-t] [-e K=V] [-u USER] [-w DIR] CONTAINER CMD...: one more process in a running
// container, through the runtime's exec (it joins the container's namespaces and cgroup and
// takes its capabilities, no_new_privileges and seccomp filter).
#include <fcntl.h>
#include <unistd.h>

#include <memory>

#include "cli/command_registry.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "runtime/exec_process.hpp"
#include "runtime/run_records.hpp"
#include "runtime/state.hpp"

namespace {

struct Opts {
  std::string container, user, workdir;
  std::vector<std::string> env;
  bool interactive = false, tty = false, detach = false;
};

kiln::cli::RegisterCommand reg("exec", "Run a command in a running container", [](CLI::App& sub) -> kiln::cli::Action {
  auto o = std::make_shared<Opts>();
  sub.add_flag("-i,--interactive", o->interactive, "keep stdin attached");
  sub.add_flag("-t,--tty", o->tty, "allocate a terminal");
  sub.add_flag("-d,--detach", o->detach, "do not wait for the command");
  sub.add_option("-e,--env", o->env, "KEY=VALUE")->allow_extra_args(false);
  sub.add_option("-u,--user", o->user, "UID[:GID]");
  sub.add_option("-w,--workdir", o->workdir, "working directory");
  sub.add_option("CONTAINER", o->container, "name or id")->required();
  sub.prefix_command();
  CLI::App* app = &sub;
  return [o, app] {
    namespace rt = kiln::runtime;
    rt::RunRecords records(rt::default_run_root());
    rt::RunRecord r = records.load(records.resolve(o->container));
    if (records.status(r).state != "running") throw kiln::Error("container " + r.name + " is not running");
    rt::ExecOptions e;
    e.root = records.runtime_root();
    e.id = r.id;
    e.args = app->remaining();
    if (e.args.empty()) throw kiln::Error("exec " + o->container + ": no command given");
    // The container's environment, as its init got it (it is not kept on disk).
    try {
      rt::StateDir sd(records.runtime_root(), r.id);
      std::string environ = kiln::read_file("/proc/" + std::to_string(sd.load().pid) + "/environ");
      for (size_t pos = 0; pos < environ.size();) {
        size_t end = environ.find('\0', pos);
        if (end == std::string::npos) end = environ.size();
        if (end > pos) e.env.push_back(environ.substr(pos, end - pos));
        pos = end + 1;
      }
    } catch (const kiln::Error&) {
    }
    e.env.insert(e.env.end(), o->env.begin(), o->env.end());
    e.cwd = o->workdir;
    e.user = o->user;
    e.tty = o->tty;
    e.detach = o->detach;
    e.no_new_privs = true;
    if (!o->interactive && !o->tty) {
      kiln::UniqueFd null = kiln::open_file("/dev/null", O_RDONLY);
      ::dup2(null.get(), 0);
    }
    try {
      return rt::exec_in_container(e);
    } catch (const kiln::Error& err) {
      std::string m = err.what();
      size_t pos = m.find("exec: \"");
      if (pos != std::string::npos) {
        std::fprintf(stderr, "kiln: exec %s: %s\n", o->container.c_str(), m.substr(pos).c_str());
        return err.code() == ENOENT ? 127 : 126;
      }
      throw;
    }
  };
});

}  // namespace
