// kiln history IMAGE: one row per history entry, newest first: the step that made it (for a
// kiln build, the instruction after ARG/ENV expansion) and the size of its layer (entries marked
// empty_layer made none: 0B). --human=false prints sizes in bytes.
#include <cstdio>
#include <memory>

#include "cli/command_registry.hpp"
#include "engine/status_text.hpp"
#include "image/image_store.hpp"

namespace {

struct State {
  std::string image;
  bool no_trunc = false;
  bool human = true;
};

kiln::cli::RegisterCommand reg(
    "history", "Show the layers of an image and what made them", [](kiln::cli::Command& sub) -> kiln::cli::Action {
      auto s = std::make_shared<State>();
      sub.add_option("IMAGE", s->image, "name or id").required();
      sub.add_flag("--no-trunc", s->no_trunc, "do not shorten CREATED BY");
      sub.add_flag("-H,--human", s->human, "sizes as 1.2MB (default); --human=false: bytes");
      return [s] {
        kiln::image::Store store(kiln::cli::globals().root);
        auto img = store.resolve(s->image);
        struct Row {
          std::string layer, created, by;
          uint64_t size;
        };
        std::vector<Row> rows;
        size_t li = 0;
        const auto& layers = img.record.layers;
        for (const auto& h : img.config.history) {
          Row r{"-", h.created.substr(0, 19), h.created_by, 0};
          if (!h.empty_layer && li < layers.size()) {
            r.layer = layers[li].diff_id.hex.substr(0, 12);
            r.size = layers[li].diff_size;
            ++li;
          }
          rows.push_back(r);
        }
        for (; li < layers.size(); ++li)  // layers the history does not describe
          rows.push_back(Row{layers[li].diff_id.hex.substr(0, 12), "-", "", layers[li].diff_size});
        std::printf("%-14s %-22s %-12s %s\n", "LAYER", "CREATED", "SIZE", "CREATED BY");
        for (auto it = rows.rbegin(); it != rows.rend(); ++it) {
          std::string by = it->by;
          if (!s->no_trunc && by.size() > 60) by = by.substr(0, 57) + "...";
          std::string size = s->human ? kiln::engine::human_size(it->size) : std::to_string(it->size);
          std::printf("%-14s %-22s %-12s %s\n", it->layer.c_str(), it->created.empty() ? "-" : it->created.c_str(),
                      size.c_str(), by.c_str());
        }
        return 0;
      };
    });

}  // namespace
