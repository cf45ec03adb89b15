#include "image/tar_writer.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "common/error.hpp"
#include "common/files.hpp"
#include "image/digest.hpp"

namespace kiln::image {
namespace {

struct Header {
  char b[512];
};

// Octal in a field of `width` bytes (width-1 digits and a NUL); false when it does not fit.
bool octal(char* field, size_t width, uint64_t v) {
  char tmp[32];
  std::snprintf(tmp, sizeof tmp, "%0*llo", static_cast<int>(width - 1), static_cast<unsigned long long>(v));
  if (std::strlen(tmp) > width - 1) return false;
  std::memcpy(field, tmp, width - 1);
  field[width - 1] = '\0';
  return true;
}

// "LEN key=value\n" where LEN counts the whole record, itself included.
std::string pax_record(const std::string& key, std::string_view value) {
  size_t body = 1 + key.size() + 1 + value.size() + 1;
  size_t len = body + 1;
  while (std::to_string(len).size() + body != len) ++len;
  return std::to_string(len) + " " + key + "=" + std::string(value) + "\n";
}

void put_string(char* field, size_t width, const std::string& s) {
  std::memcpy(field, s.data(), std::min(width, s.size()));
}

void checksum(Header& h) {
  std::memset(h.b + 148, ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : h.b) sum += c;
  std::snprintf(h.b + 148, 8, "%06o", sum);
  h.b[155] = ' ';
}

Header ustar(const std::string& name, char type, uint32_t mode, uint64_t uid, uint64_t gid, uint64_t size,
             int64_t mtime, const std::string& link, uint32_t dmaj, uint32_t dmin, std::string& pax) {
  Header h;
  std::memset(h.b, 0, sizeof h.b);
  // name, or prefix/name split at a '/'
  if (name.size() <= 100) {
    put_string(h.b, 100, name);
  } else {
    size_t split = name.rfind('/', 155);
    if (split != std::string::npos && split <= 155 && name.size() - split - 1 <= 100 && split > 0) {
      put_string(h.b + 345, 155, name.substr(0, split));
      put_string(h.b, 100, name.substr(split + 1));
    } else {
      pax += pax_record("path", name);
      put_string(h.b, 100, name.substr(0, 100));
    }
  }
  octal(h.b + 100, 8, mode & 07777);
  if (!octal(h.b + 108, 8, uid)) {
    pax += pax_record("uid", std::to_string(uid));
    octal(h.b + 108, 8, 0);
  }
  if (!octal(h.b + 116, 8, gid)) {
    pax += pax_record("gid", std::to_string(gid));
    octal(h.b + 116, 8, 0);
  }
  if (!octal(h.b + 124, 12, size)) {
    pax += pax_record("size", std::to_string(size));
    octal(h.b + 124, 12, 0);
  }
  octal(h.b + 136, 12, static_cast<uint64_t>(mtime < 0 ? 0 : mtime));
  h.b[156] = type;
  if (link.size() > 100) pax += pax_record("linkpath", link);
  put_string(h.b + 157, 100, link);
  std::memcpy(h.b + 257, "ustar", 6);
  std::memcpy(h.b + 263, "00", 2);
  octal(h.b + 329, 8, dmaj);
  octal(h.b + 337, 8, dmin);
  return h;
}

}  // namespace

constexpr size_t kTarBuffer = 1 << 20;

void TarWriter::flush() {
  if (buf_.empty()) return;
  if (hash_) hash_->update(buf_);
  write_all(fd_, buf_, "write tar");
  buf_.clear();
}

void TarWriter::raw(const void* p, size_t n) {
  if (buf_.capacity() < kTarBuffer) buf_.reserve(kTarBuffer);
  if (buf_.size() + n > kTarBuffer) flush();
  if (n >= kTarBuffer) {
    std::string_view big(static_cast<const char*>(p), n);
    if (hash_) hash_->update(big);
    write_all(fd_, big, "write tar");
  } else {
    buf_.append(static_cast<const char*>(p), n);
  }
  written_ += n;
}

void TarWriter::pad() {
  static const char zeros[512] = {};
  if (written_ % 512) raw(zeros, 512 - written_ % 512);
}

void TarWriter::header(const TarEntry& e) {
  if (pending_) throw Error("tar: entry written before the previous one's data");
  std::string name = e.path;
  if (e.type == TarEntry::Type::dir && (name.empty() || name.back() != '/')) name += "/";
  std::string pax;
  Header h = ustar(name, static_cast<char>(e.type), e.mode, e.uid, e.gid, e.type == TarEntry::Type::file ? e.size : 0,
                   e.mtime, e.link, e.dev_major, e.dev_minor, pax);
  for (const auto& [k, v] : e.xattrs) pax += pax_record("SCHILY.xattr." + k, v);
  if (!pax.empty()) {
    std::string short_name = "PaxHeaders/" + name.substr(0, 80);
    std::string ignored;
    Header x = ustar(short_name, 'x', 0644, 0, 0, pax.size(), e.mtime, "", 0, 0, ignored);
    checksum(x);
    raw(x.b, sizeof x.b);
    raw(pax.data(), pax.size());
    pad();
  }
  checksum(h);
  raw(h.b, sizeof h.b);
  pending_ = e.type == TarEntry::Type::file ? e.size : 0;
}

void TarWriter::data(std::string_view bytes) {
  if (bytes.size() > pending_) throw Error("tar: more data than the entry's size");
  raw(bytes.data(), bytes.size());
  pending_ -= bytes.size();
  if (pending_ == 0) pad();
}

void TarWriter::data_from_fd(int fd, uint64_t size, const std::string& what) {
  char buf[1 << 16];
  uint64_t left = size;
  while (left > 0) {
    ssize_t n = ::read(fd, buf, std::min<uint64_t>(sizeof buf, left));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno("read " + what);
    if (n == 0) throw Error(what + " shrank while it was written");
    data(std::string_view(buf, static_cast<size_t>(n)));
    left -= static_cast<uint64_t>(n);
  }
  if (size == 0) pad();
}

void TarWriter::finish() {
  if (pending_) throw Error("tar: the last entry's data is incomplete");
  static const char zeros[1024] = {};
  raw(zeros, sizeof zeros);
  flush();
}

}  // namespace kiln::image
