// A bounded byte queue between two threads: the thread receiving a blob (libcurl's write
// callback) pushes, the thread unpacking it reads, so a layer is extracted while it downloads
// with at most `capacity` bytes held in memory. push() blocks while the queue is full (the
// download waits for the unpacker); read() blocks while it is empty.
//
// Ends: the producer close()s after the last byte (read then returns 0) or abort()s (read
// throws, naming why). The consumer reads until the end, or drain()s it when it stops using
// the bytes, so a producer never waits on a reader that went away.
#pragma once
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <string>
#include <vector>

namespace kiln::image {

class ByteQueue {
 public:
  explicit ByteQueue(size_t capacity);
  ByteQueue(const ByteQueue&) = delete;
  ByteQueue& operator=(const ByteQueue&) = delete;

  // Copies all n bytes in, waiting for room as needed.
  void push(const char* data, size_t n);
  void close();
  void abort(const std::string& why);

  // Up to n bytes into buf; 0 once the queue is closed and empty. Throws after abort().
  size_t read(char* buf, size_t n);
  // Reads and discards until the end (close or abort); the bytes discarded.
  size_t drain();

 private:
  std::mutex mutex_;
  std::condition_variable readable_, writable_;
  std::vector<char> ring_;
  size_t head_ = 0;  // next byte to read
  size_t size_ = 0;  // bytes held
  bool closed_ = false;
  bool aborted_ = false;
  std::string why_;
};

}  // namespace kiln::image
