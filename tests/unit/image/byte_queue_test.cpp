// The bounded queue between a download and its unpacker, and the unpacker reading from it.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "common/error.hpp"
#include "common/files.hpp"
#include "image/byte_queue.hpp"
#include "image/layer_unpack.hpp"
#include "image/whiteout.hpp"
#include "tar_builder.hpp"

using namespace kiln;
using namespace kiln::image;
using kiln::test::TarBuilder;

namespace {

std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 7919) % 251);
  return s;
}

// Everything the queue gives until its end, read in pieces of `piece` bytes.
std::string read_all(ByteQueue& q, size_t piece) {
  std::string out, buf(piece, '\0');
  for (size_t n; (n = q.read(buf.data(), buf.size())) > 0;) out.append(buf.data(), n);
  return out;
}

}  // namespace

TEST(ByteQueue, BytesArriveInOrderAcrossTheRingsWrap) {
  // A ring of 1000 bytes, pushes of 333 and reads of 97: every copy wraps somewhere.
  ByteQueue q(1000);
  const std::string data = pattern(200000);
  std::thread producer([&] {
    for (size_t off = 0; off < data.size(); off += 333)
      q.push(data.data() + off, std::min<size_t>(333, data.size() - off));
    q.close();
  });
  std::string got = read_all(q, 97);
  producer.join();
  EXPECT_EQ(got, data);
}

TEST(ByteQueue, ProducerWaitsWhileFull) {
  ByteQueue q(64);
  std::atomic<bool> pushed{false};
  std::thread producer([&] {
    q.push(std::string(100, 'a').data(), 100);  // 36 bytes more than fit
    pushed = true;
    q.close();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(pushed) << "a push larger than the capacity returned before anything was read";
  char buf[16];
  EXPECT_EQ(q.read(buf, sizeof buf), 16u);
  std::string rest = read_all(q, 1000);
  producer.join();
  EXPECT_TRUE(pushed);
  EXPECT_EQ(rest.size(), 84u);
}

TEST(ByteQueue, AbortMakesTheReaderThrowEvenWithDataHeld) {
  ByteQueue q(64);
  q.push("abc", 3);
  q.abort("digest mismatch");
  char buf[8];
  try {
    q.read(buf, sizeof buf);
    FAIL() << "read after abort returned";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ECANCELED);
    EXPECT_NE(std::string(e.what()).find("digest mismatch"), std::string::npos) << e.what();
  }
}

TEST(ByteQueue, DrainDiscardsUntilTheEnd) {
  ByteQueue q(16);
  std::thread producer([&] {
    for (int i = 0; i < 100; ++i) q.push("0123456789", 10);
    q.close();
  });
  EXPECT_EQ(q.drain(), 1000u);
  producer.join();
  char c;
  EXPECT_EQ(q.read(&c, 1), 0u);
}

TEST(ByteQueue, EmptyClosedQueueReadsZero) {
  ByteQueue q(16);
  q.close();
  char c;
  EXPECT_EQ(q.read(&c, 1), 0u);
}

// The unpacker fed from the queue by another thread, in chunks the size libcurl hands over,
// through a queue much smaller than the layer: the same files and digests as from a file.
TEST(ByteQueue, UnpackerReadsALayerAsItStreams) {
  const std::string big = pattern(3 << 20);
  const std::string blob =
      TarBuilder("gzip").dir("d").file("d/big", big).file("d/small", "s").symlink("l", "d/small").finish();
  char t[] = "/tmp/kiln-stream-test.XXXXXX";
  const std::string dir = ::mkdtemp(t);
  mkdir_p(dir + "/a");
  mkdir_p(dir + "/b");
  ByteQueue q(64 << 10);
  std::thread producer([&] {
    for (size_t off = 0; off < blob.size(); off += 16384)
      q.push(blob.data() + off, std::min<size_t>(16384, blob.size() - off));
    q.close();
  });
  OverlayWhiteouts ws1, ws2;
  UnpackOptions opt;
  UniqueFd a = open_file(dir + "/a", O_PATH | O_DIRECTORY);
  const InputReader reader = [&](char* buf, size_t n) { return q.read(buf, n); };
  UnpackResult streamed = unpack_layer(reader, a.get(), ws1, opt);
  producer.join();
  UniqueFd in(::memfd_create("layer", MFD_CLOEXEC));
  write_all(in.get(), blob, "memfd");
  ::lseek(in.get(), 0, SEEK_SET);
  UniqueFd b = open_file(dir + "/b", O_PATH | O_DIRECTORY);
  UnpackResult from_file = unpack_layer(in.get(), b.get(), ws2, opt);
  EXPECT_EQ(streamed.digest, from_file.digest);
  EXPECT_EQ(streamed.diff_id, from_file.diff_id);
  EXPECT_EQ(streamed.size, blob.size());
  EXPECT_EQ(read_file(dir + "/a/d/big"), big);
  EXPECT_EQ(read_file(dir + "/a/d/small"), "s");
  remove_tree(dir);
}

// A stream cut off part-way (the download failed): the unpacker stops with the queue's error.
TEST(ByteQueue, UnpackerStopsWhenTheStreamIsAborted) {
  const std::string blob = TarBuilder("gzip").file("f", pattern(1 << 20)).finish();
  char t[] = "/tmp/kiln-stream-test.XXXXXX";
  const std::string dir = ::mkdtemp(t);
  ByteQueue q(4096);
  std::thread producer([&] {
    q.push(blob.data(), blob.size() / 2);
    q.abort("truncated download");
  });
  OverlayWhiteouts ws;
  UniqueFd root = open_file(dir, O_PATH | O_DIRECTORY);
  const InputReader reader = [&](char* buf, size_t n) { return q.read(buf, n); };
  std::string err;
  try {
    unpack_layer(reader, root.get(), ws, {});
  } catch (const Error& e) {
    err = e.what();
  }
  producer.join();
  EXPECT_NE(err.find("truncated download"), std::string::npos) << err;
  remove_tree(dir);
}
