// kiln-runtime kill [--all] ID [SIGNAL]: names and numbers, default SIGTERM.
#include "cli/command_registry.hpp"
#include "common/signals.hpp"
#include "runtime/lifecycle.hpp"

namespace {
struct Opts {
  std::string id;
  std::string signal = "SIGTERM";
  bool all = false;
};
kiln::cli::RegisterCommand reg("kill", "send a signal to a container",
                               [](kiln::cli::Command& sub) -> kiln::cli::Action {
                                 auto o = std::make_shared<Opts>();
                                 sub.add_flag("-a,--all", o->all, "signal every process in the container");
                                 sub.add_option("id", o->id, "container id").required();
                                 sub.add_option("signal", o->signal, "signal name or number");
                                 return [o] {
                                   kiln::runtime::kill_container(kiln::cli::globals().root, o->id,
                                                                 kiln::parse_signal(o->signal), o->all);
                                   return 0;
                                 };
                               });
}  // namespace
