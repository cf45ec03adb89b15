// ISA-L gzip inflate (image/gzip_inflate.hpp) on its own and through the layer unpacker:
// members back to back, trailing bytes, and hostile input (cut short, corrupt deflate data, a
// wrong CRC-32 or length), fed in chunks of every size so members and trailers straddle them.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include <string>
#include <vector>

#include "common/error.hpp"
#include "common/files.hpp"
#include "image/gzip_inflate.hpp"
#include "image/layer_unpack.hpp"
#include "image/whiteout.hpp"
#include "tar_builder.hpp"

using namespace kiln;
using namespace kiln::image;
using kiln::test::TarBuilder;

namespace {

// One gzip member of data (zlib's deflate, gzip wrapper), as gzip(1) writes them.
std::string gzip_member(const std::string& data, int level = 6) {
  z_stream z{};
  if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) throw Error("deflateInit2");
  std::string out(deflateBound(&z, data.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int r = deflate(&z, Z_FINISH);
  deflateEnd(&z);
  if (r != Z_STREAM_END) throw Error("deflate");
  out.resize(z.total_out);
  return out;
}

// Not really random but not compressible to nothing either: a long deflate stream.
std::string sample(size_t n) {
  std::string s;
  uint32_t x = 12345;
  while (s.size() < n) {
    x = x * 1103515245 + 12345;
    s += "line " + std::to_string(x >> 20) + (x & 0x100 ? " of the layer\n" : " lorem ipsum\n");
  }
  s.resize(n);
  return s;
}

// Inflates all of gz, handing it to the inflater `chunk` bytes at a time.
std::string inflate(const std::string& gz, size_t chunk) {
  size_t at = 0;
  auto inf = GzipInflater::create([&] {
    std::string_view v(gz.data() + at, std::min(chunk, gz.size() - at));
    at += v.size();
    return v;
  });
  if (!inf) throw Error("no inflater");
  std::string out;
  char buf[3000];  // odd size: output blocks end mid-member too
  for (size_t n; (n = inf->read(buf, sizeof buf)) > 0;) out.append(buf, n);
  return out;
}

std::string error_of(auto f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

#define NEED_ISAL() \
  if (!GzipInflater::available()) GTEST_SKIP() << "built without ISA-L or libisal.so.2 not installed"

}  // namespace

TEST(GzipInflate, DetectsGzipAsLibarchiveDoes) {
  EXPECT_TRUE(looks_like_gzip(gzip_member("x")));
  EXPECT_FALSE(looks_like_gzip(std::string("\x1f\x8b\x08", 3)));      // too short to tell
  EXPECT_FALSE(looks_like_gzip(std::string("\x1f\x8b\x07\x00", 4)));  // not deflate
  EXPECT_FALSE(looks_like_gzip(std::string("\x1f\x8b\x08\x20", 4)));  // reserved flag
  EXPECT_FALSE(looks_like_gzip("ustar"));
}

TEST(GzipInflate, OneMemberInChunksOfAnySize) {
  NEED_ISAL();
  std::string data = sample(300000);
  std::string gz = gzip_member(data);
  for (size_t chunk : {size_t{1}, size_t{7}, size_t{4096}, size_t{65536}, gz.size()})
    EXPECT_EQ(inflate(gz, chunk), data) << "chunk " << chunk;
}

TEST(GzipInflate, MembersBackToBackAreOneStream) {
  NEED_ISAL();
  std::string a = sample(70000), b = "second", c = sample(1000);
  std::string gz = gzip_member(a) + gzip_member(b, 1) + gzip_member("") + gzip_member(c, 9);
  for (size_t chunk : {size_t{1}, size_t{3}, size_t{5000}, gz.size()})
    EXPECT_EQ(inflate(gz, chunk), a + b + c) << "chunk " << chunk;
}

TEST(GzipInflate, TrailingBytesAfterTheLastMemberAreIgnored) {
  NEED_ISAL();
  std::string gz = gzip_member("data");
  for (std::string tail : {std::string(1024, '\0'), std::string("garbage"), std::string("\x1f\x8b", 2),
                           std::string("\x1f\x8b\x07\x00more", 8)})
    for (size_t chunk : {size_t{1}, size_t{4096}}) EXPECT_EQ(inflate(gz + tail, chunk), "data");
}

TEST(GzipInflate, TruncatedMemberFails) {
  NEED_ISAL();
  std::string data = sample(20000);
  std::string gz = gzip_member(data);
  for (size_t cut = 4; cut < gz.size(); cut += cut < 40 ? 1 : 97) {
    std::string m = error_of([&] { inflate(gz.substr(0, cut), 4096); });
    EXPECT_NE(m, "(no error)") << "cut at " << cut << " of " << gz.size();
  }
  // The last member cut short, after a whole first one.
  std::string two = gzip_member("first") + gz;
  EXPECT_NE(error_of([&] { inflate(two.substr(0, two.size() - 3), 1); }), "(no error)");
  EXPECT_NE(error_of([&] { inflate(two.substr(0, two.size() / 2), 1); }).find("truncated"), std::string::npos);
}

TEST(GzipInflate, CorruptDeflateDataFails) {
  NEED_ISAL();
  std::string data = sample(50000);
  std::string gz = gzip_member(data);
  // An invalid block type (3) right after the header.
  std::string bad = gz;
  bad[10] = static_cast<char>(0x07);
  EXPECT_NE(error_of([&] { inflate(bad, 4096); }).find("corrupt deflate data"), std::string::npos);
  // Bit flips anywhere in the body: a decode error or a checksum mismatch, never silent.
  for (size_t at = 12; at + 8 < gz.size(); at += gz.size() / 37) {
    std::string flipped = gz;
    flipped[at] = static_cast<char>(flipped[at] ^ 0x10);
    EXPECT_NE(error_of([&] { inflate(flipped, 4096); }), "(no error)") << "flip at " << at;
  }
}

TEST(GzipInflate, WrongCrcOrLengthFails) {
  NEED_ISAL();
  std::string gz = gzip_member(sample(10000));
  std::string bad_crc = gz, bad_len = gz;
  bad_crc[gz.size() - 8] = static_cast<char>(bad_crc[gz.size() - 8] ^ 1);
  bad_len[gz.size() - 4] = static_cast<char>(bad_len[gz.size() - 4] ^ 1);
  EXPECT_NE(error_of([&] { inflate(bad_crc, 4096); }).find("checksum mismatch"), std::string::npos);
  EXPECT_NE(error_of([&] { inflate(bad_len, 1); }).find("checksum mismatch"), std::string::npos);
  // ...in a second member too.
  std::string two = gzip_member("ok") + bad_crc;
  EXPECT_NE(error_of([&] { inflate(two, 4096); }).find("checksum mismatch"), std::string::npos);
}

// Through the unpacker: a tar split across members, bytes after it, and the digests.
namespace {

UnpackResult unpack_bytes(const std::string& blob, const std::string& root, UnpackOptions opt = {}) {
  UniqueFd in(::memfd_create("layer", MFD_CLOEXEC));
  write_all(in.get(), blob, "memfd");
  ::lseek(in.get(), 0, SEEK_SET);
  UniqueFd r = open_file(root, O_PATH | O_DIRECTORY);
  OverlayWhiteouts ws;
  return unpack_layer(in.get(), r.get(), ws, opt);
}

struct Root {
  std::string path;
  Root() {
    char t[] = "/tmp/kiln-gzip-test.XXXXXX";
    path = ::mkdtemp(t);
  }
  ~Root() { remove_tree(path); }
};

}  // namespace

TEST(GzipInflateUnpack, TarSplitAcrossMembersWithTrailingBytes) {
  std::string tar = TarBuilder().file("a", sample(100000)).file("b", "bee").finish();
  size_t half = tar.size() / 2 + 123;  // inside a's data
  std::string blob = gzip_member(tar.substr(0, half)) + gzip_member(tar.substr(half)) + std::string(512, '\0');
  Root r;
  UnpackResult res = unpack_bytes(blob, r.path);
  EXPECT_EQ(res.compression, "gzip");
  EXPECT_EQ(res.digest, sha256_of(blob));  // every input byte, the ignored ones too
  EXPECT_EQ(res.diff_id, sha256_of(tar));
  EXPECT_EQ(res.size, blob.size());
  EXPECT_EQ(res.diff_size, tar.size());
  EXPECT_EQ(read_file(r.path + "/b"), "bee");
  EXPECT_EQ(read_file(r.path + "/a"), sample(100000));
}

TEST(GzipInflateUnpack, HostileGzipFailsWithOneLine) {
  std::string tar = TarBuilder().file("a", sample(200000)).finish();
  std::string gz = gzip_member(tar);
  std::string bad_crc = gz;
  bad_crc[gz.size() - 6] = static_cast<char>(bad_crc[gz.size() - 6] ^ 0x40);
  std::string corrupt = gz;
  corrupt[gz.size() / 2] = static_cast<char>(corrupt[gz.size() / 2] ^ 0xff);
  std::vector<std::string> hostile = {gz.substr(0, gz.size() / 3)};
  // libarchive's gzip filter (the zlib fallback) does not check a member's trailer: a cut or
  // wrong one, or deflate data that still decodes to other bytes, pass (the diff_id then
  // catches it); igzip checks every member's CRC-32 and length.
  if (GzipInflater::available()) hostile.insert(hostile.end(), {gz.substr(0, gz.size() - 1), bad_crc, corrupt});
  for (const std::string& blob : hostile) {
    Root r;
    std::string m = error_of([&] { unpack_bytes(blob, r.path); });
    EXPECT_NE(m, "(no error)");
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
}

TEST(GzipInflateUnpack, BombIsCappedWhileInflating) {
  std::string tar = TarBuilder().file("zeros", std::string(4 << 20, '\0')).finish();
  std::string gz = gzip_member(tar, 9);
  UnpackOptions opt;
  opt.max_size = 1 << 20;
  Root r;
  std::string m = error_of([&] { unpack_bytes(gz, r.path, opt); });
  EXPECT_NE(m.find("decompresses to more than the limit"), std::string::npos) << m;
}
