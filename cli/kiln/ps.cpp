// kiln ps [-a] [-q]: containers started by `kiln run` (running ones; -a: all).
#include <cstdio>
#include <memory>

#include "cli/command_registry.hpp"
#include "common/error.hpp"
#include "engine/container_network.hpp"
#include "engine/monitor.hpp"
#include "engine/status_text.hpp"
#include "engine/records.hpp"

namespace {

struct Opts {
  bool all = false, quiet = false, no_trunc = false;
};

// n characters, the last three of them dots. Written so, and the quotes below as chars, because
// GCC 12 warns about the plain `substr + "..."` once inlined: one of the false positives the
// top CMakeLists.txt names (they fail no build, but cli/ builds without warnings).
std::string cut(const std::string& s, size_t n) {
  if (s.size() <= n) return s;
  std::string out(s, 0, n);
  out.replace(n - 3, 3, 3, '.');
  return out;
}

kiln::cli::RegisterCommand reg("ps", "List containers", [](kiln::cli::Command& sub) -> kiln::cli::Action {
  auto o = std::make_shared<Opts>();
  sub.add_flag("-a,--all", o->all, "also stopped containers");
  sub.add_flag("-q,--quiet", o->quiet, "ids only");
  sub.add_flag("--no-trunc", o->no_trunc, "full ids and commands");
  return [o] {
    namespace rt = kiln::engine;
    rt::RunRecords records(rt::default_run_root());
    if (!o->quiet)
      std::printf("%-12s  %-20s  %-20s  %-24s  %-28s  %-16s  %s\n", "CONTAINER ID", "NAME", "IMAGE", "COMMAND",
                  "STATUS", "CREATED", "PORTS");
    for (const auto& note : rt::settle_all_orphans(records)) std::fprintf(stderr, "kiln: %s\n", note.c_str());
    for (auto& r : records.list()) {
      rt::RunStatus s = records.status(r);
      if (!o->all && s.state != "running") continue;
      std::string id = o->no_trunc ? r.id : r.id.substr(0, 12);
      if (o->quiet) {
        std::printf("%s\n", id.c_str());
        continue;
      }
      std::string cmd;
      for (const auto& a : r.command) cmd += (cmd.empty() ? "" : " ") + a;
      cmd = '"' + (o->no_trunc ? cmd : cut(cmd, 20)) + '"';
      int64_t age = rt::seconds_since(r.created);
      std::string created = age < 0 ? "?" : rt::human_duration(age) + " ago";
      std::string ports;
      for (const auto& p : rt::ports_from_settings(r.extra.value("NetworkSettings", nlohmann::json::object())))
        ports += (ports.empty() ? "" : ", ") + rt::port_text(p);
      std::printf("%-12s  %-20s  %-20s  %-24s  %-28s  %-16s  %s\n", id.c_str(), cut(r.name, 20).c_str(),
                  cut(r.image, 20).c_str(), cmd.c_str(), rt::status_text(r, s).c_str(), created.c_str(), ports.c_str());
    }
    return 0;
  };
});

}  // namespace
