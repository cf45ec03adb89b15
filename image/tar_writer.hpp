// A minimal POSIX tar (pax) writer: ustar headers, with a pax extended header for whatever
// ustar cannot hold (long names and link targets, big sizes or ids, xattrs). Used for build
// layers and image archives (kiln save). Hand-written rather than libarchive's writer: linking
// that statically drags in every writer format and with them libxml2 and nettle, which kiln's
// start-time budget keeps out of the binary (CMakeLists.txt); and reproducible output needs
// control of every header byte anyway (no atime/ctime, no names, fixed order).
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kiln::image {

struct TarEntry {
  enum class Type : char { file = '0', hardlink = '1', symlink = '2', chr = '3', blk = '4', dir = '5', fifo = '6' };
  Type type = Type::file;
  std::string path;  // relative; a dir gets a trailing '/' in the header
  std::string link;  // hardlink or symlink target
  uint32_t mode = 0644;
  uint64_t uid = 0, gid = 0;
  uint64_t size = 0;  // file data bytes that follow
  int64_t mtime = 0;
  uint32_t dev_major = 0, dev_minor = 0;
  std::vector<std::pair<std::string, std::string>> xattrs;
};

class Sha256;

// Output is buffered (a few write(2) calls per MiB, not three per entry): nothing but finish()
// promises that the bytes reached fd.
class TarWriter {
 public:
  explicit TarWriter(int fd) : fd_(fd) {}
  // Every byte written from now on also goes into hash.
  void hash_into(Sha256* hash) { hash_ = hash; }
  // Writes the header; then exactly entry.size bytes through data(), then the next entry.
  void header(const TarEntry& entry);
  void data(std::string_view bytes);
  // Copies `size` bytes from fd (a file of exactly that size).
  void data_from_fd(int fd, uint64_t size, const std::string& what);
  // Ends the archive (two zero blocks).
  void finish();
  uint64_t written() const { return written_; }

 private:
  void raw(const void* p, size_t n);
  void pad();
  void flush();

  int fd_;
  Sha256* hash_ = nullptr;
  std::string buf_;
  uint64_t written_ = 0;
  uint64_t pending_ = 0;  // data bytes the current entry still needs
};

}  // namespace kiln::image
