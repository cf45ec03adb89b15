// SHA-256 (FIPS 180-4) for the seccomp cache key and entry checksum.
// Why not OpenSSL: even linked statically, libcrypto costs every kiln-runtime exec ~1.4 ms (its
// initialisation and the page faults of a 4.5 MB binary; measured with hyperfine, a program
// hashing a 20 KB profile: 0.8 ms with this file, 2.2 ms with EVP_Digest from libcrypto.a;
// dynamically linked it was ~9 ms), paid by create, start, state, kill and delete alike.
// Hashing a profile in software takes tens of microseconds.
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
