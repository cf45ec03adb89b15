// kiln port CONTAINER: its published ports, "80/tcp -> 0.0.0.0:8080" (docker's format).
#include <cstdio>
#include <memory>

#include "cli/command_registry.hpp"
#include "common/error.hpp"
#include "engine/container_network.hpp"
#include "engine/records.hpp"

namespace {

struct Opts {
  std::string container;
};

kiln::cli::RegisterCommand reg("port", "List a container's published ports",
                               [](kiln::cli::Command& sub) -> kiln::cli::Action {
                                 auto o = std::make_shared<Opts>();
                                 sub.add_option("CONTAINER", o->container, "name or id").required();
                                 return [o] {
                                   namespace en = kiln::engine;
                                   en::RunRecords records(en::default_run_root());
                                   en::RunRecord r = records.load(records.resolve(o->container));
                                   auto settings = r.extra.value("NetworkSettings", nlohmann::json::object());
                                   for (const auto& p : en::ports_from_settings(settings))
                                     std::printf("%u/%s -> %s:%u\n", unsigned{p.container_port}, p.protocol.c_str(),
                                                 p.host_ip.empty() ? "0.0.0.0" : p.host_ip.c_str(),
                                                 unsigned{p.host_port});
                                   return 0;
                                 };
                               });

}  // namespace
