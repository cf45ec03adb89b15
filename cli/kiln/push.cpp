// kiln push [--tls-verify=false] [--chunk-size BYTES] [-q] IMAGE [DESTINATION]
#include <cstdio>
#include <memory>
#include <string>

#include "cli/command_registry.hpp"
#include "common/error.hpp"
#include "image/image_store.hpp"
#include "image/registry_pull.hpp"
#include "image/registry_push.hpp"

namespace {

struct PushFlags {
  std::string image, destination;
  std::string tls_verify = "true";
  int64_t chunk_size = 16 << 20;
  bool quiet = false;
};

kiln::cli::RegisterCommand reg("push", "Push an image to a registry", [](kiln::cli::Command& sub) -> kiln::cli::Action {
  auto f = std::make_shared<PushFlags>();
  sub.add_option("--tls-verify", f->tls_verify, "false: plain HTTP, no certificate checks (default true)");
  sub.add_option("--chunk-size", f->chunk_size, "blobs larger than this many bytes go in chunks of it (16 MiB)");
  sub.add_flag("-q,--quiet", f->quiet, "print only the manifest digest");
  sub.add_option("IMAGE", f->image, "image name or id").required();
  sub.add_option("DESTINATION", f->destination, "HOST[:PORT]/NAME[:TAG] (default: IMAGE's name)");
  return [f] {
    kiln::image::Store store(kiln::cli::globals().root);
    kiln::image::PushOptions opt;
    opt.tls_verify = kiln::image::parse_tls_verify(f->tls_verify);
    if (f->chunk_size <= 0)
      throw kiln::Error("--chunk-size " + std::to_string(f->chunk_size) + ": must be at least 1 byte");
    opt.chunk_size = static_cast<uint64_t>(f->chunk_size);
    if (!f->quiet) opt.progress = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
    kiln::image::PushedImage p = kiln::image::push(store, f->image, f->destination, opt);
    if (!f->quiet)
      std::fprintf(stderr, "%s: %zu blob(s) sent (%zu in chunks), %zu mounted, %zu already there\n",
                   p.destination.c_str(), p.blobs_sent, p.blobs_chunked, p.blobs_mounted, p.blobs_present);
    std::printf("%s\n", p.manifest_digest.str().c_str());
    return 0;
  };
});

}  // namespace
