// kiln-runtime events [--stats] [--interval 5s] ID: runc's stats JSON (once with --stats),
// otherwise a stats line per interval plus "oom" events when the OOM-kill count rises.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "cgroups/manager.hpp"
#include "cli/command_registry.hpp"
#include "common/error.hpp"
#include "runtime/container_cgroup.hpp"
#include "runtime/state.hpp"

namespace {
struct Opts {
  std::string id;
  bool stats = false;
  std::string interval = "5s";
};

std::chrono::milliseconds parse_interval(const std::string& text) {
  try {
    size_t used = 0;
    double v = std::stod(text, &used);
    std::string unit = text.substr(used);
    if (unit == "ms") return std::chrono::milliseconds(static_cast<long>(v));
    if (unit == "s" || unit.empty()) return std::chrono::milliseconds(static_cast<long>(v * 1000));
    if (unit == "m") return std::chrono::milliseconds(static_cast<long>(v * 60000));
  } catch (const std::exception&) {
  }
  throw kiln::Error("events --interval " + text + ": use a duration like 500ms, 5s or 1m");
}

kiln::cli::RegisterCommand reg(
    "events", "container stats and OOM events", [](kiln::cli::Command& sub) -> kiln::cli::Action {
      auto o = std::make_shared<Opts>();
      sub.add_flag("--stats", o->stats, "print the stats once and exit");
      sub.add_option("--interval", o->interval, "time between stats lines");
      sub.add_option("id", o->id, "container id").required();
      return [o] {
        using namespace kiln;
        runtime::StateDir dir(cli::globals().root, o->id);
        runtime::ContainerState st = dir.load();
        auto mgr = runtime::container_cgroup(st);
        if (o->stats) {
          std::printf("%s\n", cgroups::stats_to_events_json(mgr->stats(), o->id).dump().c_str());
          return 0;
        }
        auto interval = parse_interval(o->interval);
        uint64_t ooms = mgr->oom_kill_count();
        while (runtime::current_status(dir, st) != runtime::Status::stopped) {
          uint64_t now = mgr->oom_kill_count();
          if (now > ooms) std::printf("%s\n", nlohmann::json({{"type", "oom"}, {"id", o->id}}).dump().c_str());
          ooms = now;
          std::printf("%s\n", cgroups::stats_to_events_json(mgr->stats(), o->id).dump().c_str());
          std::fflush(stdout);
          std::this_thread::sleep_for(interval);
        }
        return 0;
      };
    });
}  // namespace
