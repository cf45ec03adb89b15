// Streaming gzip inflate with ISA-L's igzip, several times faster than zlib's inflate (what
// libarchive's gzip filter uses). The layer unpacker hands it the raw blob in chunks and reads
// the inflated tar stream out of it, so libarchive only ever sees an uncompressed tar.
//
// The library is loaded on first use (dlopen of libisal.so.2), as libcurl is: kiln's commands
// start without loading any shared library but libc. It is used only when kiln was built with
// ISA-L's headers (CMake: KILN_ISAL, on when found), the library loads, and KILN_INFLATE is not
// "zlib"; otherwise the caller falls back to libarchive's zlib filter.
//
// Input is what gzip(1), zlib and libarchive accept: one or more gzip members back to back
// (each one's CRC-32 and length checked), then optionally bytes that do not start another
// member, which are ignored as libarchive ignores them. A member cut short, a corrupt deflate
// stream, a bad header or a checksum mismatch throws kiln::Error.
#pragma once
#include <cstddef>
#include <functional>
#include <memory>
#include <string_view>

namespace kiln::image {

// True when `data` starts the way a gzip member does (magic, deflate, no reserved flags):
// the same test libarchive's gzip bidder makes, so both paths take the same inputs as gzip.
bool looks_like_gzip(std::string_view data);

class GzipInflater {
 public:
  // The next chunk of compressed input, valid until the next call; empty at the end.
  using Source = std::function<std::string_view()>;

  // nullptr when ISA-L is not available (not built in, not installed, or KILN_INFLATE=zlib).
  static std::unique_ptr<GzipInflater> create(Source source);
  // Whether create() would return an inflater (for the tests and `--debug` logs).
  static bool available();

  virtual ~GzipInflater() = default;
  // Up to n inflated bytes into out; 0 once every member has ended. Throws on bad input.
  virtual size_t read(char* out, size_t n) = 0;
};

}  // namespace kiln::image
