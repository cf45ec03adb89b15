// kiln kill [-s SIGNAL] CONTAINER...: send a signal (default SIGKILL, like docker).
#include <cstdio>
#include <memory>

#include "cli/command_registry.hpp"
#include "common/signals.hpp"
#include "engine/monitor.hpp"

namespace {

struct Opts {
  std::vector<std::string> containers;
  std::string signal = "KILL";
};

kiln::cli::RegisterCommand reg("kill", "Send a signal to running containers",
                               [](kiln::cli::Command& sub) -> kiln::cli::Action {
                                 auto o = std::make_shared<Opts>();
                                 sub.add_option("-s,--signal", o->signal, "signal name or number (default KILL)");
                                 sub.add_option("CONTAINER", o->containers, "names or ids").required();
                                 return [o] {
                                   namespace rt = kiln::engine;
                                   int sig = kiln::parse_signal(o->signal);
                                   rt::RunRecords records(rt::default_run_root());
                                   for (const auto& c : o->containers) {
                                     rt::RunRecord r = records.load(records.resolve(c));
                                     rt::signal_run_container(records, r, sig);
                                     std::printf("%s\n", c.c_str());
                                   }
                                   return 0;
                                 };
                               });

}  // namespace
