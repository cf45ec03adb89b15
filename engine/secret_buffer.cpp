#include "engine/secret_buffer.hpp"

#include <string.h>

#include <cstring>
#include <new>
#include <utility>

namespace kiln::engine {

void wipe(void* p, std::size_t n) noexcept {
  if (p && n) ::explicit_bzero(p, n);
}

SecretBuffer::SecretBuffer(SecretBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      capacity_(std::exchange(other.capacity_, 0)) {}

SecretBuffer& SecretBuffer::operator=(SecretBuffer&& other) noexcept {
  if (this != &other) {
    clear();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    capacity_ = std::exchange(other.capacity_, 0);
  }
  return *this;
}

void SecretBuffer::clear() noexcept {
  wipe(data_, capacity_);
  delete[] data_;
  data_ = nullptr;
  size_ = capacity_ = 0;
}

void SecretBuffer::grow(std::size_t min_capacity) {
  if (min_capacity <= capacity_) return;
  std::size_t cap = capacity_ ? capacity_ : 64;
  while (cap < min_capacity) cap *= 2;
  char* bigger = new char[cap];
  if (size_) std::memcpy(bigger, data_, size_);
  wipe(data_, capacity_);  // the old block must not keep a copy after it is freed
  delete[] data_;
  data_ = bigger;
  capacity_ = cap;
}

void SecretBuffer::append(std::string_view bytes) {
  if (bytes.empty()) return;
  std::memcpy(reserve_tail(bytes.size()), bytes.data(), bytes.size());
  size_ += bytes.size();
}

char* SecretBuffer::reserve_tail(std::size_t n) {
  grow(size_ + n);
  return data_ + size_;
}

}  // namespace kiln::engine
