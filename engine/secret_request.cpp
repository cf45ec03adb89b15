#include "engine/secret_request.hpp"

#include <charconv>
#include <set>

#include "common/error.hpp"
#include "engine/secret_store.hpp"

namespace kiln::engine {

namespace {

bool valid_env_name(std::string_view s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

template <typename T>
std::optional<T> parse_number(std::string_view s, int base) {
  T v{};
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

std::string SecretRequest::where() const {
  return type == Type::env ? "$" + target : std::string(kSecretsDir) + "/" + target;
}

SecretRequest parse_secret_request(std::string_view spec) {
  auto fail = [&](const std::string& why) -> Error { return Error("--secret " + std::string(spec) + ": " + why); };
  SecretRequest r;
  bool first = true;
  bool have_mode = false;
  size_t pos = 0;
  while (pos <= spec.size()) {
    size_t comma = spec.find(',', pos);
    if (comma == std::string_view::npos) comma = spec.size();
    std::string_view item = spec.substr(pos, comma - pos);
    pos = comma + 1;
    if (first) {
      first = false;
      // "source=NAME" is docker's long form of the leading name; accept both.
      if (item.substr(0, 7) == "source=") item.remove_prefix(7);
      if (item.empty()) throw fail("missing secret name");
      if (!valid_secret_name(item)) throw fail("invalid secret name \"" + std::string(item) + "\"");
      r.name = item;
      continue;
    }
    size_t eq = item.find('=');
    if (eq == std::string_view::npos) throw fail("option \"" + std::string(item) + "\" needs a value (KEY=VALUE)");
    std::string key(item.substr(0, eq));
    std::string_view value = item.substr(eq + 1);
    if (key == "type") {
      if (value == "mount") r.type = SecretRequest::Type::mount;
      else if (value == "env") r.type = SecretRequest::Type::env;
      else throw fail("type must be env or mount");
    } else if (key == "target") {
      if (value.empty()) throw fail("target is empty");
      r.target = value;
    } else if (key == "mode") {
      auto m = parse_number<unsigned>(value, 8);
      if (!m || *m > 0777) throw fail("mode must be octal permission bits like 0400");
      r.mode = static_cast<mode_t>(*m);
      have_mode = true;
    } else if (key == "uid") {
      auto v = parse_number<uid_t>(value, 10);
      if (!v || *v == static_cast<uid_t>(-1)) throw fail("uid must be a number");
      r.uid = *v;
    } else if (key == "gid") {
      auto v = parse_number<gid_t>(value, 10);
      if (!v || *v == static_cast<gid_t>(-1)) throw fail("gid must be a number");
      r.gid = *v;
    } else {
      throw fail("unknown option \"" + key + "\" (use type, target, mode, uid, gid)");
    }
  }
  if (r.target.empty()) r.target = r.name;
  if (r.type == SecretRequest::Type::env) {
    if (have_mode || r.uid || r.gid) throw fail("mode, uid and gid only apply to type=mount");
    if (!valid_env_name(r.target))
      throw fail("\"" + r.target + "\" is not a valid environment variable name (set target=NAME)");
  } else if (!valid_secret_name(r.target)) {
    // One plain file name: the tmpfs holds /run/secrets/T and nothing deeper.
    throw fail("target \"" + r.target + "\" must be a plain file name (letters, digits, '_', '.', '-')");
  }
  return r;
}

std::vector<SecretRequest> parse_secret_requests(const std::vector<std::string>& specs) {
  std::vector<SecretRequest> out;
  std::set<std::string> seen;
  for (const auto& s : specs) {
    auto r = parse_secret_request(s);
    if (!seen.insert(r.where()).second)
      throw Error("--secret " + s + ": " + r.where() + " is already used by another --secret");
    out.push_back(std::move(r));
  }
  return out;
}

nlohmann::json secret_requests_json(const std::vector<SecretRequest>& requests) {
  auto out = nlohmann::json::array();
  for (const auto& r : requests)
    out.push_back(
        {{"name", r.name}, {"type", r.type == SecretRequest::Type::env ? "env" : "mount"}, {"target", r.where()}});
  return out;
}

}  // namespace kiln::engine
