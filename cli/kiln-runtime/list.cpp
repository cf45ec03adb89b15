// kiln-runtime list [--format table|json] [-q]
#include <cstdio>

#include "cli/command_registry.hpp"
#include "runtime/lifecycle.hpp"

namespace {
struct Opts {
  std::string format = "table";
  bool quiet = false;
};
kiln::cli::RegisterCommand reg("list", "list containers", [](kiln::cli::Command& sub) -> kiln::cli::Action {
  auto o = std::make_shared<Opts>();
  sub.add_option("-f,--format", o->format, "table or json").one_of({"table", "json"});
  sub.add_flag("-q,--quiet", o->quiet, "ids only");
  return [o] {
    auto all = kiln::runtime::list_containers(kiln::cli::globals().root);
    if (o->quiet) {
      for (const auto& c : all) std::printf("%s\n", c.state.id.c_str());
      return 0;
    }
    if (o->format == "json") {
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& c : all) arr.push_back(kiln::runtime::state_to_oci_json(c.state, c.status));
      std::printf("%s\n", arr.dump().c_str());
      return 0;
    }
    std::printf("%-24s %-8s %-10s %-40s %-32s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER");
    for (const auto& c : all) {
      int pid = c.status == kiln::runtime::Status::stopped ? 0 : c.state.pid;
      std::printf("%-24s %-8d %-10s %-40s %-32s %s\n", c.state.id.c_str(), pid, kiln::runtime::status_name(c.status),
                  c.state.bundle.c_str(), c.state.created.c_str(),
                  c.state.owner.empty() ? "root" : c.state.owner.c_str());
    }
    return 0;
  };
});
}  // namespace
