// Lowercase hex of bytes: the form of digests, container ids and cache keys.
#pragma once
#include <cstddef>
#include <string>

namespace kiln {

inline std::string lower_hex(const unsigned char* data, std::size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  s.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    s += kDigits[data[i] >> 4];
    s += kDigits[data[i] & 0xf];
  }
  return s;
}

}  // namespace kiln
