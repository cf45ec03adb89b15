#include "image/user_lookup.hpp"

#include <optional>

#include "common/account_db.hpp"
#include "common/error.hpp"
#include "common/ids.hpp"

namespace kiln::image {
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
  auto passwd = read_account_db(root, "/etc/passwd");
  std::string user_name;
  if (auto n = account_id(user)) {
    r.uid = *n;
    for (const auto& f : passwd)
      if (f.size() >= 4 && account_id(f[2]) == n) {
        user_name = f[0];
        if (auto g = account_id(f[3])) r.gid = *g;
        break;
      }
  } else {
    bool found = false;
    for (const auto& f : passwd)
      if (f.size() >= 4 && f[0] == user) {
        auto u = account_id(f[2]);
        auto g = account_id(f[3]);
        if (!u || !g) throw Error("user " + user + ": malformed /etc/passwd entry");
        r.uid = *u;
        r.gid = *g;
        user_name = user;
        found = true;
        break;
      }
    if (!found) throw Error("user " + user + " not found in the image's /etc/passwd");
  }
  auto groups = read_account_db(root, "/etc/group");
  if (!group.empty()) {
    if (auto n = account_id(group)) {
      r.gid = *n;
    } else {
      bool found = false;
      for (const auto& f : groups)
        if (f.size() >= 3 && f[0] == group) {
          auto g = account_id(f[2]);
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
          if (auto g = account_id(f[2]); g && *g != r.gid) r.additional_gids.push_back(*g);
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
