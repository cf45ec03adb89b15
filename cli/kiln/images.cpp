// kiln images: one row per name (an untagged image gets one row of <none>).
#include <cstdio>
#include <ctime>
#include <memory>
#include <string>

#include "cli/command_registry.hpp"
#include "engine/status_text.hpp"
#include "image/image_store.hpp"

namespace {

using kiln::engine::human_size;

struct State {
  bool quiet = false;
  bool digests = false;
};

kiln::cli::RegisterCommand reg("images", "List images", [](kiln::cli::Command& sub) -> kiln::cli::Action {
  auto s = std::make_shared<State>();
  sub.add_flag("-q,--quiet", s->quiet, "only image ids");
  sub.add_flag("--digests", s->digests, "show the manifest digest (the registry's, for a pulled image)");
  return [s] {
    kiln::image::Store store(kiln::cli::globals().root);
    auto records = store.list();
    if (s->quiet) {
      for (const auto& r : records) std::printf("%s\n", r.id.hex.substr(0, 12).c_str());
      return 0;
    }
    if (s->digests)
      std::printf("%-40s %-16s %-71s %-14s %-22s %s\n", "REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE");
    else std::printf("%-40s %-16s %-14s %-22s %s\n", "REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE");
    for (const auto& r : records) {
      std::vector<std::string> names = r.names;
      if (names.empty()) names.push_back("<none>:<none>");
      for (const auto& n : names) {
        auto colon = n.rfind(':');
        std::string repo = n.substr(0, colon), tag = n.substr(colon + 1);
        std::string created = r.created.substr(0, 19);
        if (s->digests) {
          std::string digest = r.manifest.str();
          for (const auto& d : r.repo_digests)
            if (d.substr(0, d.find('@')) == repo) digest = d.substr(d.find('@') + 1);
          std::printf("%-40s %-16s %-71s %-14s %-22s %s\n", repo.c_str(), tag.c_str(), digest.c_str(),
                      r.id.hex.substr(0, 12).c_str(), created.empty() ? "-" : created.c_str(),
                      human_size(r.size()).c_str());
          continue;
        }
        std::printf("%-40s %-16s %-14s %-22s %s\n", repo.c_str(), tag.c_str(), r.id.hex.substr(0, 12).c_str(),
                    created.empty() ? "-" : created.c_str(), human_size(r.size()).c_str());
      }
    }
    return 0;
  };
});

}  // namespace
