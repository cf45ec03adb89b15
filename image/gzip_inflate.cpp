#include "image/gzip_inflate.hpp"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "common/error.hpp"

#ifdef KILN_HAVE_ISAL
#include <dlfcn.h>

#include "image/dl_symbol.hpp"
#include <isa-l/igzip_lib.h>
#endif

namespace kiln::image {

bool looks_like_gzip(std::string_view d) {
  return d.size() >= 4 && static_cast<unsigned char>(d[0]) == 0x1f && static_cast<unsigned char>(d[1]) == 0x8b &&
         d[2] == 8 && (static_cast<unsigned char>(d[3]) & 0xe0) == 0;
}

#ifndef KILN_HAVE_ISAL

std::unique_ptr<GzipInflater> GzipInflater::create(Source) { return nullptr; }
bool GzipInflater::available() { return false; }

#else

namespace {

struct IsalLibrary {
  bool loaded = false;
  void (*inflate_init)(inflate_state*) = nullptr;
  void (*inflate_reset)(inflate_state*) = nullptr;
  int (*inflate)(inflate_state*) = nullptr;
};

IsalLibrary open_isal_library() {
  IsalLibrary l;
  const char* choice = std::getenv("KILN_INFLATE");
  if (choice && std::string_view(choice) == "zlib") {
    spdlog::debug("gzip: KILN_INFLATE=zlib, inflating with libarchive's zlib filter");
    return l;
  }
  void* lib = ::dlopen("libisal.so.2", RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    spdlog::debug("gzip: ISA-L not loaded ({}), inflating with zlib", ::dlerror());
    return l;
  }
  l.loaded = find_symbol(lib, "isal_inflate_init", l.inflate_init) &&
             find_symbol(lib, "isal_inflate_reset", l.inflate_reset) && find_symbol(lib, "isal_inflate", l.inflate);
  if (!l.loaded) spdlog::debug("gzip: libisal.so.2 lacks a function kiln calls, inflating with zlib");
  return l;  // the library stays loaded for the life of the process
}

const IsalLibrary& isal() {
  static const IsalLibrary lib = open_isal_library();  // thread-safe: a C++ static
  return lib;
}

const char* isal_error(int r) {
  switch (r) {
    case ISAL_INVALID_BLOCK: return "corrupt deflate data (invalid block)";
    case ISAL_INVALID_SYMBOL: return "corrupt deflate data (invalid code)";
    case ISAL_INVALID_LOOKBACK: return "corrupt deflate data (distance too far back)";
    case ISAL_INVALID_WRAPPER: return "invalid gzip header";
    case ISAL_UNSUPPORTED_METHOD: return "unsupported compression method in the gzip header";
    case ISAL_INCORRECT_CHECKSUM: return "checksum mismatch (a member's CRC-32 or length is wrong)";
    case ISAL_NEED_DICT: return "deflate stream needs a preset dictionary";
    default: return "inflate failed";
  }
}

class IsalInflater final : public GzipInflater {
 public:
  explicit IsalInflater(Source source) : source_(std::move(source)), state_(std::make_unique<inflate_state>()) {
    start_member();
  }

  size_t read(char* out, size_t n) override {
    if (n > UINT32_MAX) n = UINT32_MAX;
    size_t produced = 0;
    while (produced < n && !done_) {
      if (between_members_) {
        if (!next_member()) done_ = true;
        continue;
      }
      inflate_state& st = *state_;
      if (st.avail_in == 0 && refill()) {
        fed_ = rest_.substr(0, UINT32_MAX);  // avail_in is 32 bits
        rest_.remove_prefix(fed_.size());
        st.next_in = reinterpret_cast<uint8_t*>(const_cast<char*>(fed_.data()));
        st.avail_in = static_cast<uint32_t>(fed_.size());
      }
      const uint32_t in_before = st.avail_in;
      st.next_out = reinterpret_cast<uint8_t*>(out + produced);
      st.avail_out = static_cast<uint32_t>(n - produced);
      int r = isal().inflate(&st);
      const size_t got = (n - produced) - st.avail_out;
      produced += got;
      if (r < 0) throw Error(std::string("gzip: ") + isal_error(r));
      if (st.block_state == ISAL_BLOCK_FINISH) {
        // What isal did not consume belongs to what follows the member.
        member_end(std::string_view(reinterpret_cast<const char*>(st.next_in), st.avail_in));
        continue;
      }
      if (got == 0 && st.avail_in == in_before && st.avail_in == 0 && eof_)
        throw Error("gzip: truncated (the data ends inside a member)");
      if (got == 0 && st.avail_in == in_before && st.avail_in != 0)
        throw Error("gzip: inflate made no progress");  // isal's contract says it cannot happen
    }
    return produced;
  }

 private:
  void start_member() {
    isal().inflate_init(state_.get());
    state_->crc_flag = ISAL_GZIP;  // parse the header; check the CRC-32 and length trailer
  }

  // True when rest_ has bytes; pulls chunks from the source until it does or the input ends.
  bool refill() {
    while (rest_.empty() && !eof_) {
      rest_ = source_();
      if (rest_.empty()) eof_ = true;
    }
    return !rest_.empty();
  }

  void member_end(std::string_view unconsumed) {
    const char* at = unconsumed.data();
    if (at >= fed_.data() && at + unconsumed.size() <= fed_.data() + fed_.size()) {
      // The tail of the chunk isal had, which rest_ (if anything is left) continues: no copy.
      rest_ = std::string_view(at, unconsumed.size() + rest_.size());
    } else if (at >= probe_ && at + unconsumed.size() <= probe_ + sizeof probe_) {
      // A member inside the few probe bytes (no real one is that short): they come before
      // rest_, and rest_ may point into leftover_, so the new one is built first.
      std::string left(unconsumed);
      left.append(rest_);
      leftover_ = std::move(left);
      rest_ = leftover_;
    } else if (!unconsumed.empty()) {
      throw Error("gzip: inflate left input outside what it was given");  // isal's contract says it cannot
    }
    state_->avail_in = 0;
    fed_ = {};
    between_members_ = true;
  }

  // After a member: another one starts (true), or the rest is not gzip and is ignored.
  bool next_member() {
    probe_n_ = 0;
    while (probe_n_ < sizeof probe_ && refill()) {
      probe_[probe_n_++] = rest_.front();
      rest_.remove_prefix(1);
    }
    if (!looks_like_gzip(std::string_view(probe_, probe_n_))) return false;  // garbage or the end
    between_members_ = false;
    isal().inflate_reset(state_.get());
    state_->crc_flag = ISAL_GZIP;
    fed_ = {};
    state_->next_in = reinterpret_cast<uint8_t*>(probe_);
    state_->avail_in = static_cast<uint32_t>(probe_n_);
    return true;
  }

  Source source_;
  std::unique_ptr<inflate_state> state_;  // ~40 KiB: not on the stack
  std::string_view rest_;                 // input not yet handed to isal
  std::string_view fed_;                  // the chunk isal is reading from
  std::string leftover_;                  // input after a member, not yet handed on
  char probe_[4] = {};                    // the first bytes after a member, to test for another
  size_t probe_n_ = 0;
  bool eof_ = false;
  bool between_members_ = false;
  bool done_ = false;
};

}  // namespace

std::unique_ptr<GzipInflater> GzipInflater::create(Source source) {
  if (!isal().loaded) return nullptr;
  return std::make_unique<IsalInflater>(std::move(source));
}

bool GzipInflater::available() { return isal().loaded; }

#endif

}  // namespace kiln::image
