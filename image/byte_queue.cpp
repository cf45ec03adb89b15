#include "image/byte_queue.hpp"

#include <algorithm>
#include <cstring>

#include "common/error.hpp"

namespace kiln::image {

ByteQueue::ByteQueue(size_t capacity) : ring_(std::max<size_t>(capacity, 1)) {}

void ByteQueue::push(const char* data, size_t n) {
  std::unique_lock<std::mutex> g(mutex_);
  while (n > 0) {
    writable_.wait(g, [&] { return aborted_ || size_ < ring_.size(); });
    if (aborted_) return;  // nobody reads an aborted stream
    // Into the free span after the held bytes (it may wrap: at most two copies).
    const size_t tail = (head_ + size_) % ring_.size();
    const size_t span = std::min(ring_.size() - size_, ring_.size() - tail);
    const size_t k = std::min(n, span);
    std::memcpy(ring_.data() + tail, data, k);
    size_ += k;
    data += k;
    n -= k;
    readable_.notify_one();
  }
}

void ByteQueue::close() {
  std::lock_guard<std::mutex> g(mutex_);
  closed_ = true;
  readable_.notify_all();
}

void ByteQueue::abort(const std::string& why) {
  std::lock_guard<std::mutex> g(mutex_);
  if (!aborted_) why_ = why;
  aborted_ = true;
  readable_.notify_all();
}

size_t ByteQueue::read(char* buf, size_t n) {
  std::unique_lock<std::mutex> g(mutex_);
  readable_.wait(g, [&] { return aborted_ || size_ > 0 || closed_; });
  if (aborted_) throw Error("stream aborted: " + why_, ECANCELED);
  if (size_ == 0) return 0;
  size_t done = 0;
  while (done < n && size_ > 0) {
    const size_t k = std::min({n - done, size_, ring_.size() - head_});
    std::memcpy(buf + done, ring_.data() + head_, k);
    head_ = (head_ + k) % ring_.size();
    size_ -= k;
    done += k;
  }
  writable_.notify_one();
  return done;
}

size_t ByteQueue::drain() {
  std::unique_lock<std::mutex> g(mutex_);
  size_t dropped = 0;
  for (;;) {  // as long as the producer sends (its download is bounded by the blob's size)
    readable_.wait(g, [&] { return aborted_ || size_ > 0 || closed_; });
    dropped += size_;
    head_ = 0;
    size_ = 0;
    writable_.notify_one();
    if (aborted_ || closed_) return dropped;
  }
}

}  // namespace kiln::image
