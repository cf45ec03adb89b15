#include "common/ids.hpp"

#include <cerrno>
#include <charconv>

#include "common/error.hpp"

namespace kiln {

void check_id(std::uint64_t id, const std::string& what) {
  if (id >= kNotAnId)
    throw Error(what + ": " + std::to_string(id) + " is not a valid id (it means \"unchanged\" to the kernel)", EINVAL);
}

std::uint32_t parse_id(const std::string& text, const std::string& what) {
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || p != text.data() + text.size())
    throw Error(what + ": \"" + text + "\" is not a numeric id", EINVAL);
  check_id(v, what);
  return static_cast<std::uint32_t>(v);
}

}  // namespace kiln
