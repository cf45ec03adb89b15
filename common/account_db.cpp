#include "common/account_db.hpp"

#include <charconv>

#include "common/error.hpp"
#include "common/ids.hpp"
#include "common/in_root.hpp"

namespace kiln {
namespace {

// /etc/passwd and /etc/group of real images are a few KiB; an LDAP dump a few hundred.
constexpr std::size_t kMaxAccountDbSize = 4 << 20;

AccountEntry split_fields(const std::string& line) {
  AccountEntry f;
  size_t i = 0;
  for (;;) {
    size_t j = line.find(':', i);
    f.push_back(line.substr(i, j == std::string::npos ? std::string::npos : j - i));
    if (j == std::string::npos) return f;
    i = j + 1;
  }
}

}  // namespace

std::optional<unsigned> account_id(const std::string& s) {
  unsigned v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  if (v >= kNotAnId) return std::nullopt;
  return v;
}

std::vector<AccountEntry> read_account_db(int root, const char* path) {
  std::vector<AccountEntry> out;
  std::optional<std::string> text = with_context(std::string("the image's ") + path,
                                                 [&] { return read_regular_in_root(root, path, kMaxAccountDbSize); });
  if (!text) return out;
  // Split by hand, not with an istringstream: the container's init reads /etc/passwd for HOME,
  // and the first stream in a process initialises the locale machinery (~4 ms of a start).
  size_t at = 0;
  while (at < text->size()) {
    size_t end = text->find('\n', at);
    if (end == std::string::npos) end = text->size();
    std::string line = text->substr(at, end - at);
    at = end + 1;
    if (line.empty() || line[0] == '#') continue;
    out.push_back(split_fields(line));
  }
  return out;
}

std::optional<std::string> home_of_uid(int root, uid_t uid) {
  for (const auto& f : read_account_db(root, "/etc/passwd"))
    if (f.size() >= 6 && account_id(f[2]) == uid && !f[5].empty()) return f[5];
  return std::nullopt;
}

}  // namespace kiln
