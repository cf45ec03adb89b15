// kiln-runtime pause / resume: freeze and thaw the container's cgroup.
#include "cli/command_registry.hpp"
#include "runtime/lifecycle.hpp"

namespace {
kiln::cli::RegisterCommand pause_reg("pause", "freeze every process of a container",
                                     [](kiln::cli::Command& sub) -> kiln::cli::Action {
                                       auto id = std::make_shared<std::string>();
                                       sub.add_option("id", *id, "container id").required();
                                       return [id] {
                                         kiln::runtime::pause_container(kiln::cli::globals().root, *id);
                                         return 0;
                                       };
                                     });
kiln::cli::RegisterCommand resume_reg("resume", "thaw a paused container",
                                      [](kiln::cli::Command& sub) -> kiln::cli::Action {
                                        auto id = std::make_shared<std::string>();
                                        sub.add_option("id", *id, "container id").required();
                                        return [id] {
                                          kiln::runtime::resume_container(kiln::cli::globals().root, *id);
                                          return 0;
                                        };
                                      });
}  // namespace
