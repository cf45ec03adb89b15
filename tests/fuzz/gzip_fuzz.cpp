// libFuzzer: the ISA-L gzip inflater (image/gzip_inflate.hpp) against libarchive's gzip filter
// (zlib), the fallback it replaces. The input is fed in chunks whose sizes come from its first
// byte, so members, headers and trailers straddle chunk boundaries. Besides crashes it checks
// that when both accept an input they give the same bytes (a layer's diff_id depends on it).
// Which inputs each refuses may differ (ISA-L checks a gzip header's own CRC, libarchive does
// not), so a refusal by one only is not a failure.
#include <archive.h>
#include <archive_entry.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/error.hpp"
#include "image/gzip_inflate.hpp"

namespace {

constexpr size_t kMaxOut = 8 << 20;  // a bomb stops here in both

// libarchive's reading: gzip filter, raw format, all the data; false on an error.
bool libarchive_inflate(const std::string& in, std::string& out) {
  archive* a = archive_read_new();
  archive_read_support_filter_gzip(a);
  archive_read_support_format_raw(a);
  bool ok = archive_read_open_memory(a, in.data(), in.size()) == ARCHIVE_OK;
  archive_entry* e;
  ok = ok && archive_read_next_header(a, &e) == ARCHIVE_OK;
  char buf[65536];
  while (ok) {
    la_ssize_t n = archive_read_data(a, buf, sizeof buf);
    if (n < 0) ok = false;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > kMaxOut) break;
  }
  archive_read_free(a);
  return ok;
}

bool isal_inflate(const std::string& in, size_t chunk, std::string& out) {
  size_t at = 0;
  auto inf = kiln::image::GzipInflater::create([&] {
    std::string_view v(in.data() + at, std::min(chunk, in.size() - at));
    at += v.size();
    return v;
  });
  if (!inf) return false;
  try {
    char buf[40000];
    for (size_t n; (n = inf->read(buf, sizeof buf)) > 0;) {
      out.append(buf, n);
      if (out.size() > kMaxOut) break;
    }
  } catch (const kiln::Error&) {
    return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || !kiln::image::GzipInflater::available()) return 0;
  const size_t chunk = 1 + (data[0] % 2 ? data[0] : static_cast<size_t>(data[0]) * 64);
  std::string in(reinterpret_cast<const char*>(data + 1), size - 1);
  if (!kiln::image::looks_like_gzip(in)) return 0;  // the unpacker hands only these to the inflater
  std::string a, b;
  const bool ok_isal = isal_inflate(in, chunk, a);
  const bool ok_zlib = libarchive_inflate(in, b);
  if (ok_isal && ok_zlib && a.size() <= kMaxOut && b.size() <= kMaxOut && a != b) std::abort();
  return 0;
}
