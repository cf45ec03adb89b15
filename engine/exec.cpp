#include "engine/exec.hpp"

#include "common/error.hpp"
#include "common/files.hpp"
#include "engine/records.hpp"
#include "runtime/exec_process.hpp"
#include "runtime/state.hpp"

namespace kiln::engine {
namespace {

std::vector<std::string> init_environment(const std::string& runtime_root, const RunRecord& r) {
  runtime::StateDir sd(runtime_root, r.id);
  pid_t pid = sd.load().pid;
  std::string environ = with_context("container " + r.name + ": read its environment",
                                     [&] { return read_file("/proc/" + std::to_string(pid) + "/environ"); });
  std::vector<std::string> out;
  for (size_t pos = 0; pos < environ.size();) {
    size_t end = environ.find('\0', pos);
    if (end == std::string::npos) end = environ.size();
    if (end > pos) out.push_back(environ.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

}  // namespace

int exec(const ExecRequest& req) {
  RunRecords records(default_run_root());
  RunRecord r = records.load(records.resolve(req.container));
  if (records.status(r).state != "running") throw Error("container " + r.name + " is not running");
  if (req.args.empty()) throw Error("exec " + req.container + ": no command given");
  runtime::ExecOptions e;
  e.root = records.runtime_root();
  e.id = r.id;
  e.args = req.args;
  e.env = init_environment(records.runtime_root(), r);
  e.env.insert(e.env.end(), req.env.begin(), req.env.end());
  e.cwd = req.workdir;
  e.user = req.user;
  e.tty = req.tty;
  e.detach = req.detach;
  e.no_new_privs = true;
  return runtime::exec_in_container(e);
}

}  // namespace kiln::engine
