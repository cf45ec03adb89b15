#include "common/byte_size.hpp"

#include <cctype>

#include "common/error.hpp"

namespace kiln {

int64_t parse_byte_size(const std::string& text, const std::string& what) {
  auto bad = [&](const char* why) { return Error(what + " " + text + ": " + why); };
  if (text.empty()) throw bad("empty");
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0) throw bad("expected a number with an optional b, k, m, g or t suffix");
  std::string suffix = text.substr(digits);
  for (char& c : suffix) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (suffix.size() == 2 && suffix[1] == 'b') suffix.pop_back();
  int shift;
  if (suffix.empty() || suffix == "b") shift = 0;
  else if (suffix == "k") shift = 10;
  else if (suffix == "m") shift = 20;
  else if (suffix == "g") shift = 30;
  else if (suffix == "t") shift = 40;
  else throw bad("unknown suffix (use b, k, m, g or t)");
  if (digits > 16) throw bad("too large");
  int64_t n = std::stoll(text.substr(0, digits));
  if (n <= 0) throw bad("must be positive");
  if (n > (int64_t{1} << 50) >> shift) throw bad("too large");
  return n << shift;
}

}  // namespace kiln
