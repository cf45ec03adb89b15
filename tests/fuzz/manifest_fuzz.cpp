// libFuzzer: the manifest, index, image-config and image-name parsers must reject any input with a
// kiln::Error (never crash, hang or throw anything else).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/error.hpp"
#include "image/image_config.hpp"
#include "image/manifest.hpp"
#include "image/reference.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    kiln::image::parse_manifest(text);
  } catch (const kiln::Error&) {
  }
  try {
    auto idx = kiln::image::parse_index(text);
    kiln::image::match_platform(idx, kiln::image::host_platform());
  } catch (const kiln::Error&) {
  }
  try {
    auto c = kiln::image::parse_image_config(text);
    kiln::image::chain_ids(c.diff_ids);
  } catch (const kiln::Error&) {
  }
  // Image names come from archives too (RepoTags, ref.name annotations).
  try {
    kiln::image::normalize_name(text);
  } catch (const kiln::Error&) {
  }
  return 0;
}
