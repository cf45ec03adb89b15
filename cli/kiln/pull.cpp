// kiln pull [--platform os/arch[/variant]] [--tls-verify=false] [-q] REF
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "cli/command_registry.hpp"
#include "common/error.hpp"
#include "image/image_store.hpp"
#include "image/registry_pull.hpp"

namespace {

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
        kiln::image::PulledImage p = kiln::image::pull(store, f->reference, opt);
        if (!f->quiet)
          std::fprintf(stderr, "%s: %zu layer(s) fetched, manifest %s\n", p.name.c_str(), p.layers_fetched,
                       p.manifest_digest.str().c_str());
        std::printf("%s\n", p.image.id.str().c_str());
        return 0;
      };
    });

}  // namespace
