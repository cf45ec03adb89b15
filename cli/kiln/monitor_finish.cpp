// kiln monitor-finish: run by kiln-monitor (a detached container's waiting monitor) once the
// container has exited or its --timeout has passed, in the monitor's own process. Not for people.
#include <sys/types.h>

#include <memory>
#include <optional>

#include "cli/command_registry.hpp"
#include "common/error.hpp"
#include "engine/monitor.hpp"
#include "engine/records.hpp"

namespace {

struct Opts {
  std::string run_root;
  std::string container;
  int64_t pid = 0;
  std::optional<int64_t> status;
  bool timed_out = false;
};

kiln::cli::RegisterCommand reg("monitor-finish", "Record a detached container's end (run by kiln-monitor)",
                               [](kiln::cli::Command& sub) -> kiln::cli::Action {
                                 auto o = std::make_shared<Opts>();
                                 sub.hide();
                                 sub.add_option("--run-root", o->run_root, "run root").required();
                                 sub.add_option("--pid", o->pid, "the container's init").required();
                                 sub.add_option("--status", o->status, "its exit status");
                                 sub.add_flag("--timed-out", o->timed_out, "its --timeout passed");
                                 sub.add_option("CONTAINER", o->container, "full id").required();
                                 return [o] {
                                   namespace en = kiln::engine;
                                   if (o->timed_out == o->status.has_value())
                                     throw kiln::Error("monitor-finish: give exactly one of --status and --timed-out");
                                   std::optional<int> status;
                                   if (o->status) status = static_cast<int>(*o->status);
                                   en::finish_detached(en::RunRecords(o->run_root), o->container,
                                                       static_cast<pid_t>(o->pid), status);
                                   return 0;
                                 };
                               });

}  // namespace
