// Sizes as docker, podman and runc take them on the command line: a count of bytes with an
// optional binary suffix (b, k, m, g, t; kb, mb ... too; either case): "512k", "100M", "1g".
#pragma once
#include <cstdint>
#include <string>

namespace kiln {

// Throws "WHAT TEXT: reason" for anything else, zero included, and above 2^50 bytes.
int64_t parse_byte_size(const std::string& text, const std::string& what);

}  // namespace kiln
