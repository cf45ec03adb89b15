// kiln-runtime ps [--format table|json] ID: the host pids of a container's processes.
#include <cstdio>

#include "cli/command_registry.hpp"
#include "common/files.hpp"
#include "runtime/lifecycle.hpp"

namespace {
struct Opts {
  std::string id;
  std::string format = "table";
};
kiln::cli::RegisterCommand reg("ps", "list a container's processes", [](kiln::cli::Command& sub) -> kiln::cli::Action {
  auto o = std::make_shared<Opts>();
  sub.add_option("-f,--format", o->format, "table or json").one_of({"table", "json"});
  sub.add_option("id", o->id, "container id").required();
  sub.allow_extras();  // runc passes trailing ps(1) options through; we accept and ignore them
  return [o] {
    auto pids = kiln::runtime::container_pids(kiln::cli::globals().root, o->id);
    if (o->format == "json") {
      std::printf("%s\n", nlohmann::json(pids).dump().c_str());
      return 0;
    }
    std::printf("%-8s %s\n", "PID", "CMD");
    for (pid_t p : pids) {
      std::string cmd;
      try {
        cmd = kiln::read_file("/proc/" + std::to_string(p) + "/cmdline");
      } catch (const std::exception&) {
      }
      for (auto& c : cmd)
        if (c == '\0') c = ' ';
      std::printf("%-8d %s\n", p, cmd.c_str());
    }
    return 0;
  };
});
}  // namespace
