// kiln stop [-t SECONDS] CONTAINER...: SIGTERM, then SIGKILL after the grace time.
#include <cstdio>
#include <memory>

#include "cli/command_registry.hpp"
#include "engine/monitor.hpp"

namespace {

struct Opts {
  std::vector<std::string> containers;
  int timeout = 10;
};

kiln::cli::RegisterCommand reg("stop", "Stop running containers", [](kiln::cli::Command& sub) -> kiln::cli::Action {
  auto o = std::make_shared<Opts>();
  sub.add_option("-t,--time", o->timeout, "seconds to wait before SIGKILL (default 10)");
  sub.add_option("CONTAINER", o->containers, "names or ids").required();
  return [o] {
    namespace rt = kiln::engine;
    rt::RunRecords records(rt::default_run_root());
    for (const auto& c : o->containers) {
      rt::RunRecord r = records.load(records.resolve(c));
      rt::stop_run_container(records, r, o->timeout);
      std::printf("%s\n", c.c_str());
    }
    return 0;
  };
});

}  // namespace
