// kiln scan IMAGE [--json]: what looks like a secret baked into an image (image/secret_scan.hpp).
// Names layer, path and kind, never a value. Exit status: 0 nothing found, 1 findings
// (so CI can fail on them), 125 kiln failed.
#include <cstdio>
#include <memory>

#include "cli/command_registry.hpp"
#include "image/image_store.hpp"
#include "image/secret_scan.hpp"

namespace {

struct State {
  std::string image;
  bool json = false;
};

kiln::cli::RegisterCommand reg("scan", "Report keys, passwords and tokens baked into an image (never their values)",
                               [](kiln::cli::Command& sub) -> kiln::cli::Action {
                                 auto s = std::make_shared<State>();
                                 sub.add_option("IMAGE", s->image, "name or id").required();
                                 sub.add_flag("--json", s->json, "machine-readable output");
                                 return [s] {
                                   kiln::image::Store store(kiln::cli::globals().root);
                                   auto lock = store.lock_shared();  // no rmi while we walk the layers
                                   auto img = store.resolve(s->image);
                                   auto findings = kiln::image::scan_image(store, img);
                                   if (s->json) {
                                     nlohmann::json out = {{"image", img.record.id.str()},
                                                           {"names", img.record.names},
                                                           {"findings", kiln::image::findings_json(findings)}};
                                     std::printf("%s\n", out.dump(2).c_str());
                                   } else if (findings.empty()) {
                                     std::printf("no secrets found in %s\n", s->image.c_str());
                                   } else {
                                     for (const auto& f : findings)
                                       std::printf("%s\n", kiln::image::describe(f).c_str());
                                   }
                                   return findings.empty() ? 0 : 1;
                                 };
                               });

}  // namespace
