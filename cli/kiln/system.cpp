// kiln system check [--repair]: reports what crashed commands left inconsistent (records,
// runtime state, mounts, cgroups, the image store); --repair fixes it. Exit 0 when nothing is
// (left) wrong, 1 otherwise.
#include <cstdio>
#include <memory>

#include "cli/command_registry.hpp"
#include "engine/records.hpp"
#include "engine/system_check.hpp"

namespace {

struct SystemOpts {
  bool repair = false;
};

kiln::cli::RegisterCommand reg("system", "Check (and repair) kiln's state", [](kiln::cli::Command& sub) {
  auto o = std::make_shared<SystemOpts>();
  sub.require_subcommand(1);
  kiln::cli::Command c = sub.add_subcommand("check", "Report inconsistencies left by crashed commands");
  c.add_flag("--repair", o->repair, "fix what is found");
  return kiln::cli::Action([o, c] {
    if (!c.parsed()) return 125;
    auto findings = kiln::engine::system_check(kiln::cli::globals().root, kiln::engine::default_run_root(), o->repair);
    int left = 0;
    for (const auto& f : findings) {
      std::printf("%s: %s\n", f.repaired ? "repaired" : "problem", f.what.c_str());
      if (!f.repaired) ++left;
    }
    if (findings.empty()) std::printf("ok\n");
    return left ? 1 : 0;
  });
});

}  // namespace
