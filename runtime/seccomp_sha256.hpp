// SHA-256 (FIPS 180-4) for the seccomp cache key and entry checksum.
// Why not OpenSSL: linking libcrypto into kiln-runtime costs ~9 ms of dynamic loading on every
// exec here (measured: 17.9 -> 26.3 ms per spawn of a program with kiln-runtime's libraries),
// paid by create, start, state, kill and delete alike — more than the seccomp compile the cache
// saves. Hashing a profile in software takes tens of microseconds.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace kiln::runtime {

using Sha256Digest = std::array<unsigned char, 32>;

Sha256Digest sha256(const void* data, std::size_t size);
inline Sha256Digest sha256(std::string_view s) { return sha256(s.data(), s.size()); }

}  // namespace kiln::runtime
