// `kiln system check` for the image store: what a crash (kill -9, power loss, a full disk) can
// have left inconsistent, and its repair. The store's own rules (image_store.hpp) make most of
// it harmless garbage: work dirs of dead loads, layers and blobs no image names, temp files of
// atomic writes; an image record whose layers or blobs are missing is not "there" at all.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "common/check_findings.hpp"
#include "image/image_store.hpp"

namespace kiln::image {

// Reads the whole store (holding its lock shared; exclusive with repair) and reports every
// inconsistency; with repair, fixes each: removes incomplete or corrupt image records, then
// unreferenced layers and blobs, stale temp files and work dirs, and pins of containers for
// which container_exists says no.
std::vector<Finding> check_store(const Store& store, bool repair,
                                 const std::function<bool(const std::string&)>& container_exists);

}  // namespace kiln::image
