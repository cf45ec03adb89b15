#include "engine/ipv4.hpp"

#include <charconv>

#include "common/error.hpp"

namespace kiln::engine {

std::optional<uint32_t> parse_ipv4(std::string_view text) {
  uint32_t out = 0;
  size_t pos = 0;
  for (int part = 0; part < 4; ++part) {
    if (part > 0) {
      if (pos >= text.size() || text[pos] != '.') return std::nullopt;
      ++pos;
    }
    size_t start = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
    size_t len = pos - start;
    if (len == 0 || len > 3 || (len > 1 && text[start] == '0')) return std::nullopt;
    unsigned v = 0;
    std::from_chars(text.data() + start, text.data() + pos, v);
    if (v > 255) return std::nullopt;
    out = (out << 8) | v;
  }
  if (pos != text.size()) return std::nullopt;
  return out;
}

std::string format_ipv4(uint32_t a) {
  return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 255) + "." + std::to_string((a >> 8) & 255) + "." +
         std::to_string(a & 255);
}

std::string Cidr::str() const { return format_ipv4(network) + "/" + std::to_string(prefix); }

Cidr parse_cidr(const std::string& text, const std::string& what) {
  auto bad = [&](const std::string& why) { return Error(what + " " + text + ": " + why, EINVAL); };
  size_t slash = text.find('/');
  if (slash == std::string::npos) throw bad("expected ADDRESS/PREFIX (like 10.77.1.0/24)");
  auto addr = parse_ipv4(std::string_view(text).substr(0, slash));
  if (!addr) throw bad("not an IPv4 address");
  std::string p = text.substr(slash + 1);
  int prefix = -1;
  auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
  if (p.empty() || p.size() > 2 || ec != std::errc() || ptr != p.data() + p.size()) throw bad("bad prefix length");
  if (prefix < 8 || prefix > 30) throw bad("prefix length must be 8 to 30");
  Cidr c{*addr, prefix};
  c.network = *addr & c.mask();
  if (c.network != *addr) throw bad("host bits are set (the subnet is " + c.str() + ")");
  return c;
}

bool overlaps(const Cidr& a, const Cidr& b) {
  int p = a.prefix < b.prefix ? a.prefix : b.prefix;
  uint32_t m = p == 0 ? 0 : ~uint32_t{0} << (32 - p);
  return (a.network & m) == (b.network & m);
}

}  // namespace kiln::engine
