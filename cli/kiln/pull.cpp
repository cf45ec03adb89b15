// kiln pull [--platform os/arch[/variant]] [--tls-verify=false] [-q] REF
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cli/command_registry.hpp"
#include "common/error.hpp"
#include "image/image_store.hpp"
#include "image/registry_pull.hpp"

namespace {

// One line per layer, redrawn in place (ANSI cursor up) while the layers download in parallel;
// only on a terminal. Called from the fetching threads.
class LayerBars {
 public:
  void update(const kiln::image::LayerProgress& p) {
    std::lock_guard<std::mutex> g(mutex_);
    auto it = std::find_if(rows_.begin(), rows_.end(), [&](const Row& r) { return r.index == p.index; });
    if (it == rows_.end()) it = rows_.insert(rows_.end(), Row{p.index, p});
    it->last = p;
    const auto now = std::chrono::steady_clock::now();
    if (!p.done && p.bytes != 0 && now - drawn_ < std::chrono::milliseconds(100)) return;
    drawn_ = now;
    if (printed_ > 0) std::fprintf(stderr, "\033[%zuA", printed_);
    for (const auto& r : rows_) std::fprintf(stderr, "\r\033[K%s\n", line(r.last).c_str());
    printed_ = rows_.size();
    std::fflush(stderr);
  }

 private:
  struct Row {
    size_t index;
    kiln::image::LayerProgress last;
  };
  static std::string line(const kiln::image::LayerProgress& p) {
    constexpr int width = 30;
    const double f = p.total ? std::min(1.0, static_cast<double>(p.bytes) / static_cast<double>(p.total)) : 0;
    const int fill = static_cast<int>(f * width);
    char buf[256];
    std::snprintf(buf, sizeof buf, "layer %zu/%zu %.19s [%s%s] %6.1f/%.1f MB%s", p.index, p.layers,
                  p.digest.str().c_str(), std::string(static_cast<size_t>(fill), '=').c_str(),
                  std::string(static_cast<size_t>(width - fill), ' ').c_str(), static_cast<double>(p.bytes) / 1e6,
                  static_cast<double>(p.total) / 1e6, p.done ? " done" : "");
    return buf;
  }
  std::mutex mutex_;
  std::vector<Row> rows_;
  size_t printed_ = 0;
  std::chrono::steady_clock::time_point drawn_{};
};

struct PullFlags {
  std::string reference;
  std::string platform;
  std::string tls_verify = "true";
  bool quiet = false;
};

kiln::cli::RegisterCommand reg(
    "pull", "Pull an image from a registry", [](kiln::cli::Command& sub) -> kiln::cli::Action {
      auto f = std::make_shared<PullFlags>();
      sub.add_option("--platform", f->platform, "os/arch[/variant] to pick from a multi-platform index");
      sub.add_option("--tls-verify", f->tls_verify, "false: plain HTTP, no certificate checks (default true)");
      sub.add_flag("-q,--quiet", f->quiet, "print only the image ID");
      sub.add_option("reference", f->reference, "HOST[:PORT]/NAME[:TAG][@DIGEST]").required();
      return [f] {
        kiln::image::Store store(kiln::cli::globals().root);
        kiln::image::PullOptions opt;
        opt.tls_verify = kiln::image::parse_tls_verify(f->tls_verify);
        if (!f->platform.empty()) opt.platform = kiln::image::parse_platform(f->platform);
        if (!f->quiet) opt.progress = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
        auto bars = std::make_shared<LayerBars>();
        if (!f->quiet && ::isatty(STDERR_FILENO))
          opt.layer_progress = [bars](const kiln::image::LayerProgress& p) { bars->update(p); };
        kiln::image::PulledImage p = kiln::image::pull(store, f->reference, opt);
        if (!f->quiet)
          std::fprintf(stderr, "%s: %zu layer(s) fetched, manifest %s\n", p.name.c_str(), p.layers_fetched,
                       p.manifest_digest.str().c_str());
        std::printf("%s\n", p.image.id.str().c_str());
        return 0;
      };
    });

}  // namespace
