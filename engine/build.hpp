// `kiln build`: an image from a Dockerfile and a context directory, step by step, each step's
// result cached (image/build_cache.hpp) under a key made of the step's parent chain, its
// instruction after ARG/ENV expansion and, for COPY/ADD, the content and metadata of what it
// copies: never the clock. RUN steps are kiln containers on an overlay of the current layers
// (engine/build_run.hpp); COPY/ADD copy into such an overlay (engine/build_copy.hpp); either
// way the overlay's upper dir becomes the step's layer (image/layer_tar_writer.hpp), with times
// clamped to the build's epoch so that two builds make the same bytes and the same image id.
// The image is recorded, and tagged, only after every step succeeded.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "engine/dockerfile_lint.hpp"
#include "image/digest.hpp"

namespace kiln::engine {

struct BuildRequest {
  std::string store_root;
  std::string context;
  std::string dockerfile;  // default CONTEXT/Dockerfile
  std::vector<std::string> tags;
  std::vector<std::string> build_args;  // K=V, or K (taken from kiln's environment)
  std::vector<std::string> secrets;     // id=ID,src=FILE | id=ID,env=VAR
  std::string target;
  bool no_cache = false;
  std::string network = "none";              // none | host | a network's name
  std::optional<int64_t> source_date_epoch;  // times in layers and config; default 0
  std::function<void(const struct BuildProgress& event)> progress;
  std::function<void(const std::string& line)> warning;
};

// One thing a build reports as it goes. `plain` is its BuildKit-style plain line ("#3 [2/5] RUN
// make", "#3 CACHED", "#3 DONE 0.4s", "#3 0.120 <a line of RUN's output>"); kind and step let a
// terminal redraw a step's line instead.
struct BuildProgress {
  enum class Kind { step, cached, done, output };
  Kind kind;
  int step;
  std::string plain;
  std::string detail;  // step: "[2/5] RUN make"; done: "0.4s"; output: the line; cached: ""
};

// One layer of the built image, lowest first: what made it and its size.
struct BuildLayerSummary {
  std::string where;  // "Dockerfile:5: RUN"; "" for a base image's layer
  std::string text;   // the instruction as written
  image::Digest diff_id;
  uint64_t size = 0;  // uncompressed
  bool cached = false;
};

struct BuildOutcome {
  image::Digest id;
  size_t steps = 0, cached = 0;
  std::vector<BuildLayerSummary> layers;
  // Pitfalls: the Dockerfile's (engine/dockerfile_lint.hpp), then the layers'
  // (engine/build_layer_check.hpp). Advice: the image is built either way.
  std::vector<BuildFinding> findings;
};

// A RUN whose process failed: its status and last output lines travel as values.
class RunStepFailed : public Error {
 public:
  RunStepFailed(const std::string& message, int status, std::vector<std::string> last_lines)
      : Error(message), status_(status), last_lines_(std::move(last_lines)) {}
  int status() const noexcept { return status_; }
  const std::vector<std::string>& last_lines() const noexcept { return last_lines_; }

 private:
  int status_;
  std::vector<std::string> last_lines_;
};

BuildOutcome build(const BuildRequest& request);

}  // namespace kiln::engine
