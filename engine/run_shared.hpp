// One `kiln run` in two steps, so that `kiln run --replicas N` (engine/replicas.hpp) does the
// first once for N containers: prepare_run checks the flags and secrets, resolves the image and
// reads its config, parses env files and the rest into RunFlags; run_prepared makes one
// container from that (record, overlay, network, spec, monitor), as run() always did.
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

#include "engine/container_spec.hpp"
#include "engine/run.hpp"
#include "engine/secret_request.hpp"
#include "engine/secret_store.hpp"
#include "image/image_store.hpp"

namespace kiln::engine {

struct PreparedRun {
  std::vector<SecretRequest> secret_requests;
  std::optional<SecretStore> secret_store;
  uint64_t writable_size = 0;
  image::Store store;
  image::Image image;
  RunFlags flags;  // the flags that shape the spec, checked and expanded
};

PreparedRun prepare_run(const RunRequest& request);
// One container of a prepared request; `request.name` is its name (may be empty).
RunOutcome run_prepared(const RunRequest& request, const PreparedRun& prepared);

}  // namespace kiln::engine
