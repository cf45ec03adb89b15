// kiln load -i PATH [--name NAME:TAG] [--platform os/arch] [-q]
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>

#include "cli/command_registry.hpp"
#include "common/error.hpp"
#include "image/image_store.hpp"
#include "image/loader.hpp"
#include "image/secret_scan.hpp"

namespace {

struct State {
  std::string input;
  std::string name;
  std::string platform;
  bool quiet = false;
};

// One status line on a terminal, redrawn in place: layers done, bytes, rate.
std::function<void(const kiln::image::LoadProgress&)> terminal_progress() {
  auto start = std::make_shared<std::chrono::steady_clock::time_point>(std::chrono::steady_clock::now());
  return [start](const kiln::image::LoadProgress& p) {
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - *start).count();
    double mib = static_cast<double>(p.bytes) / (1 << 20);
    std::fprintf(stderr, "\r\033[Klayer %zu/%zu  %.1f MiB  %.1f MiB/s", p.layer, p.layers, mib,
                 secs > 0 ? mib / secs : 0.0);
    if (p.done) std::fputc('\n', stderr);
    std::fflush(stderr);
  };
}

kiln::cli::RegisterCommand reg(
    "load", "Load an image from a docker-save tar, an OCI layout dir or an oci-archive",
    [](kiln::cli::Command& sub) -> kiln::cli::Action {
      auto s = std::make_shared<State>();
      sub.add_option("-i,--input", s->input, "image archive or OCI layout directory").required();
      sub.add_option("--name", s->name, "name the image NAME:TAG (instead of the archive's tags)");
      sub.add_option("--platform", s->platform, "os/arch[/variant] to pick from a multi-platform index");
      sub.add_flag("-q,--quiet", s->quiet, "no progress output");
      return [s] {
        kiln::image::Store store(kiln::cli::globals().root);
        kiln::image::LoadOptions opt;
        if (!s->name.empty()) opt.name = s->name;
        if (!s->platform.empty()) opt.platform = kiln::image::parse_platform(s->platform);
        if (!s->quiet && ::isatty(STDERR_FILENO)) opt.progress = terminal_progress();
        for (const auto& img : kiln::image::load(store, s->input, opt)) {
          if (img.names.empty()) std::printf("Loaded image ID: %s\n", img.id.str().c_str());
          for (const auto& n : img.names) std::printf("Loaded image: %s\n", n.c_str());
          // Secrets baked into the image: warn, never print a value; `kiln scan` for details.
          // The load itself succeeded, so a failing scan is only a warning too.
          const std::string& shown = img.names.empty() ? img.id.str() : img.names[0];
          try {
            for (const auto& f : kiln::image::scan_image(store, store.resolve(img.id.str())))
              std::fprintf(stderr, "kiln: warning: possible secret in %s: %s\n", shown.c_str(),
                           kiln::image::describe(f).c_str());
          } catch (const kiln::Error& e) {
            std::fprintf(stderr, "kiln: warning: secret scan of %s failed: %s\n", shown.c_str(), e.what());
          }
        }
        return 0;
      };
    });

}  // namespace
