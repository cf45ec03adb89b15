// libFuzzer: layer extraction from a memory buffer into a fresh temp dir (removed after each
// input), alternating the overlay and flatten whiteout strategies. Besides crashes it checks
// the one property that matters: nothing appears outside the root (a sibling canary dir).
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "common/error.hpp"
#include "common/files.hpp"
#include "image/layer_unpack.hpp"
#include "image/whiteout.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The work dir lives for the whole run and is removed at exit (libFuzzer exits normally).
  struct Base {
    std::string path;
    Base() {
      char t[] = "/tmp/kiln-layer-fuzz.XXXXXX";
      path = ::mkdtemp(t);
      kiln::mkdir_p(path + "/canary");
    }
    ~Base() {
      try {
        kiln::remove_tree(path);
      } catch (...) {
      }
    }
  };
  static Base b;
  const std::string& base = b.path;
  static unsigned round = 0;
  std::string root = base + "/root";
  kiln::mkdir_p(root);
  kiln::UniqueFd in(::memfd_create("layer", MFD_CLOEXEC));
  if (size) kiln::write_all(in.get(), std::string_view(reinterpret_cast<const char*>(data), size), "memfd");
  ::lseek(in.get(), 0, SEEK_SET);
  kiln::image::UnpackOptions opt;
  opt.max_size = 16 << 20;
  try {
    kiln::UniqueFd rfd = kiln::open_file(root, O_PATH | O_DIRECTORY);
    if (++round % 2) {
      kiln::image::OverlayWhiteouts ws;
      kiln::image::unpack_layer(in.get(), rfd.get(), ws, opt);
    } else {
      kiln::image::FlattenWhiteouts ws;
      kiln::image::unpack_layer(in.get(), rfd.get(), ws, opt);
    }
  } catch (const kiln::Error&) {
  }
  kiln::remove_tree(root);
  if (!std::filesystem::is_empty(base + "/canary") || std::distance(std::filesystem::directory_iterator(base), {}) != 1)
    std::abort();  // something was written outside the root
  return 0;
}
