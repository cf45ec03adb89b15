// kiln-runtime spec: writes a default config.json into the bundle dir (like `runc spec`).
#include <sys/stat.h>
#include <unistd.h>

#include "cli/command_registry.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "runtime/default_spec.hpp"

namespace {
struct Opts {
  std::string bundle = ".";
  bool rootless = false;
};
kiln::cli::RegisterCommand reg("spec", "write a default config.json", [](kiln::cli::Command& sub) -> kiln::cli::Action {
  auto o = std::make_shared<Opts>();
  sub.add_option("-b,--bundle", o->bundle, "bundle directory");
  sub.add_flag("--rootless", o->rootless, "a spec for an unprivileged caller (user namespace, no network namespace)");
  return [o] {
    std::string path = o->bundle + "/config.json";
    if (kiln::path_exists(path)) throw kiln::Error("spec: " + path + " already exists");
    nlohmann::json spec =
        o->rootless ? kiln::runtime::rootless_spec(::getuid(), ::getgid()) : kiln::runtime::default_spec();
    kiln::write_file(path, spec.dump(2) + "\n", 0644);
    return 0;
  };
});
}  // namespace
