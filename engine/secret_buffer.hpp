// SecretBuffer: bytes of a secret value that are wiped when they are no longer needed.
// std::string/std::vector may leave copies of old contents behind when they grow and never
// clear what they free, so every secret value kiln holds in memory lives in one of these: a
// single heap block that grows by copying into a new block and wiping the old one, and that
// is zeroed (explicit_bzero, which the compiler may not elide) before it is freed. kiln also
// turns core dumps off (prctl PR_SET_DUMPABLE 0) in the commands that handle secrets.
#pragma once
#include <cstddef>
#include <string_view>

namespace kiln::engine {

class SecretBuffer {
 public:
  SecretBuffer() = default;
  explicit SecretBuffer(std::string_view bytes) { append(bytes); }
  SecretBuffer(SecretBuffer&& other) noexcept;
  SecretBuffer& operator=(SecretBuffer&& other) noexcept;
  SecretBuffer(const SecretBuffer&) = delete;
  SecretBuffer& operator=(const SecretBuffer&) = delete;
  ~SecretBuffer() { clear(); }

  void append(std::string_view bytes);
  // Room for n more bytes; the caller writes them at data() + size() and then commit(n).
  char* reserve_tail(std::size_t n);
  void commit(std::size_t n) { size_ += n; }
  // Wipes and frees.
  void clear() noexcept;

  const char* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  std::string_view view() const noexcept { return {data_ ? data_ : "", size_}; }

 private:
  void grow(std::size_t min_capacity);

  char* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

// explicit_bzero for memory that is not in a SecretBuffer (a std::string about to go away).
void wipe(void* p, std::size_t n) noexcept;

}  // namespace kiln::engine
