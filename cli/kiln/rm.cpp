// kiln rm [-f] CONTAINER...: remove containers (their rootfs mount, upper dir, cgroup, state,
// record and image pin). -f kills a running one first. A container whose monitor was killed
// is removed all the same.
#include <cstdio>
#include <memory>

#include "cli/command_registry.hpp"
#include "common/error.hpp"
#include "engine/monitor.hpp"

namespace {

struct Opts {
  std::vector<std::string> containers;
  bool force = false;
};

kiln::cli::RegisterCommand reg("rm", "Remove containers", [](kiln::cli::Command& sub) -> kiln::cli::Action {
  auto o = std::make_shared<Opts>();
  sub.add_flag("-f,--force", o->force, "kill running containers first");
  sub.add_option("CONTAINER", o->containers, "names or ids").required();
  return [o] {
    namespace rt = kiln::engine;
    rt::RunRecords records(rt::default_run_root());
    int rc = 0;
    for (const auto& c : o->containers) {
      try {
        rt::RunRecord r = records.load(records.resolve(c));
        rt::remove_run_container(records, r, o->force);
        std::printf("%s\n", c.c_str());
      } catch (const kiln::Error& e) {
        std::fprintf(stderr, "kiln: rm %s: %s\n", c.c_str(), e.what());
        rc = 1;
      }
    }
    return rc;
  };
});

}  // namespace
