#include "image/user_lookup.hpp"

#include <fcntl.h>

#include <charconv>
#include <optional>
#include <sstream>

#include "common/error.hpp"
#include "common/files.hpp"
#include "common/ids.hpp"
#include "common/in_root.hpp"

namespace kiln::image {
namespace {

std::optional<unsigned> number(const std::string& s) {
  unsigned v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  // (uint32)-1 would mean "unchanged" to setresuid: the process would stay root.
  if (v >= kNotAnId) return std::nullopt;
  return v;
}

// /etc/passwd and /etc/group of real images are a few KiB; an LDAP dump a few hundred.
constexpr std::size_t kMaxDbSize = 4 << 20;

// Lines of a colon-separated database, split into fields; a missing file is empty. The file
// comes from the image: bounded, regular, never waited on (read_regular_in_root).
std::vector<std::vector<std::string>> read_db(int root, const char* path) {
  std::vector<std::vector<std::string>> out;
  std::optional<std::string> text =
      with_context(std::string("the image's ") + path, [&] { return read_regular_in_root(root, path, kMaxDbSize); });
  if (!text) return out;
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f;
    size_t i = 0;
    for (;;) {
      size_t j = line.find(':', i);
      f.push_back(line.substr(i, j == std::string::npos ? std::string::npos : j - i));
      if (j == std::string::npos) break;
      i = j + 1;
    }
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace

ResolvedUser resolve_user(int root, const std::string& spec) {
  ResolvedUser r;
  if (spec.empty()) return r;
  auto colon = spec.find(':');
  std::string user = spec.substr(0, colon);
  std::string group = colon == std::string::npos ? "" : spec.substr(colon + 1);
  auto all_digits = [](const std::string& t) {
    return !t.empty() && t.find_first_not_of("0123456789") == std::string::npos;
  };
  if (all_digits(user)) parse_id(user, "uid");
  if (all_digits(group)) parse_id(group, "gid");
  auto passwd = read_db(root, "/etc/passwd");
  std::string user_name;
  if (auto n = number(user)) {
    r.uid = *n;
    for (const auto& f : passwd)
      if (f.size() >= 4 && number(f[2]) == n) {
        user_name = f[0];
        if (auto g = number(f[3])) r.gid = *g;
        break;
      }
  } else {
    bool found = false;
    for (const auto& f : passwd)
      if (f.size() >= 4 && f[0] == user) {
        auto u = number(f[2]);
        auto g = number(f[3]);
        if (!u || !g) throw Error("user " + user + ": malformed /etc/passwd entry");
        r.uid = *u;
        r.gid = *g;
        user_name = user;
        found = true;
        break;
      }
    if (!found) throw Error("user " + user + " not found in the image's /etc/passwd");
  }
  auto groups = read_db(root, "/etc/group");
  if (!group.empty()) {
    if (auto n = number(group)) {
      r.gid = *n;
    } else {
      bool found = false;
      for (const auto& f : groups)
        if (f.size() >= 3 && f[0] == group) {
          auto g = number(f[2]);
          if (!g) throw Error("group " + group + ": malformed /etc/group entry");
          r.gid = *g;
          found = true;
          break;
        }
      if (!found) throw Error("group " + group + " not found in the image's /etc/group");
    }
  }
  if (!user_name.empty()) {
    for (const auto& f : groups) {
      if (f.size() < 4) continue;
      std::string members = f[3];
      size_t i = 0;
      while (i <= members.size()) {
        size_t j = members.find(',', i);
        if (members.substr(i, j == std::string::npos ? std::string::npos : j - i) == user_name) {
          if (auto g = number(f[2]); g && *g != r.gid) r.additional_gids.push_back(*g);
          break;
        }
        if (j == std::string::npos) break;
        i = j + 1;
      }
    }
  }
  return r;
}

}  // namespace kiln::image
