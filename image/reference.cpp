#include "image/reference.hpp"

#include <cerrno>

#include "common/error.hpp"

namespace kiln::image {
namespace {

constexpr size_t kMaxNameLength = 255;
constexpr size_t kMaxTagLength = 128;

bool lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool alnum(char c) { return lower_alnum(c) || (c >= 'A' && c <= 'Z'); }
bool word(char c) { return alnum(c) || c == '_'; }
bool hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

[[noreturn]] void invalid(std::string_view text, const std::string& why) {
  std::string shown(text.substr(0, 80));
  if (text.size() > 80) shown += "...";
  throw Error("invalid image name \"" + shown + "\": " + why, EINVAL);
}

// alpha-numeric (separator alpha-numeric)*, separator = "." | "_" | "__" | "-"+
bool path_component(std::string_view c) {
  size_t i = 0;
  auto run = [&] {
    size_t start = i;
    while (i < c.size() && lower_alnum(c[i])) ++i;
    return i > start;
  };
  if (!run()) return false;
  while (i < c.size()) {
    if (c[i] == '.') ++i;
    else if (c[i] == '_') i += (i + 1 < c.size() && c[i + 1] == '_') ? 2 : 1;
    else if (c[i] == '-')
      while (i < c.size() && c[i] == '-') ++i;
    else return false;
    if (!run()) return false;
  }
  return true;
}

// domain-component ('.' domain-component)* [':' port]; a component is alnum, dashes inside.
bool domain(std::string_view d) {
  size_t colon = d.find(':');
  std::string_view host = d.substr(0, colon);
  if (colon != std::string_view::npos) {
    std::string_view port = d.substr(colon + 1);
    if (port.empty() || port.size() > 5) return false;
    for (char c : port)
      if (c < '0' || c > '9') return false;
  }
  if (host.empty()) return false;
  size_t i = 0;
  while (i <= host.size()) {
    size_t dot = host.find('.', i);
    std::string_view comp = host.substr(i, dot == std::string_view::npos ? std::string_view::npos : dot - i);
    if (comp.empty() || !alnum(comp.front()) || !alnum(comp.back())) return false;
    for (char c : comp)
      if (!alnum(c) && c != '-') return false;
    if (dot == std::string_view::npos) break;
    i = dot + 1;
  }
  return true;
}

bool tag_ok(std::string_view t) {
  if (t.empty() || t.size() > kMaxTagLength || !word(t[0])) return false;
  for (char c : t)
    if (!word(c) && c != '.' && c != '-') return false;
  return true;
}

// algorithm-component ([+._-] algorithm-component)* ':' hex{32,}
bool digest_ok(std::string_view d) {
  size_t colon = d.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string_view alg = d.substr(0, colon), value = d.substr(colon + 1);
  bool start = true;
  for (char c : alg) {
    if (start) {
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) return false;
      start = false;
    } else if (c == '+' || c == '.' || c == '_' || c == '-') {
      start = true;
    } else if (!alnum(c)) {
      return false;
    }
  }
  if (start || value.size() < 32) return false;
  for (char c : value)
    if (!hex(c)) return false;
  return !(alg == "sha256" && value.size() != 64);
}

}  // namespace

Reference parse_reference(std::string_view text) {
  if (text.empty()) invalid(text, "empty");
  Reference ref;
  std::string_view rest = text;
  if (size_t at = rest.find('@'); at != std::string_view::npos) {
    ref.digest = std::string(rest.substr(at + 1));
    if (!digest_ok(ref.digest)) invalid(text, "bad digest (want algorithm:hex, e.g. sha256:<64 hex>)");
    rest = rest.substr(0, at);
  }
  // A tag is after the last ':' that follows the last '/' (a registry port comes before a '/').
  size_t slash = rest.rfind('/');
  size_t colon = rest.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    ref.tag = std::string(rest.substr(colon + 1));
    if (!tag_ok(ref.tag)) invalid(text, "bad tag (want [A-Za-z0-9_][A-Za-z0-9_.-], at most 128)");
    rest = rest.substr(0, colon);
  }
  if (rest.empty()) invalid(text, "no repository name");
  if (rest.size() > kMaxNameLength) invalid(text, "repository name longer than 255 characters");
  // The first component is a registry when it looks like a host: a '.', a port, or localhost.
  size_t first = rest.find('/');
  if (first != std::string_view::npos) {
    std::string_view head = rest.substr(0, first);
    if (head.find('.') != std::string_view::npos || head.find(':') != std::string_view::npos || head == "localhost") {
      if (!domain(head)) invalid(text, "bad registry host \"" + std::string(head) + "\"");
      ref.domain = std::string(head);
      rest = rest.substr(first + 1);
    }
  }
  if (rest.empty()) invalid(text, "no repository name");
  size_t i = 0;
  while (i <= rest.size()) {
    size_t next = rest.find('/', i);
    std::string_view comp = rest.substr(i, next == std::string_view::npos ? std::string_view::npos : next - i);
    if (!path_component(comp))
      invalid(text, comp.empty() ? std::string("empty path component")
                                 : "bad path component \"" + std::string(comp.substr(0, 40)) +
                                       "\" (lowercase letters and digits, joined by '.', '_' or '-')");
    if (next == std::string_view::npos) break;
    i = next + 1;
  }
  ref.path = std::string(rest);
  return ref;
}

std::string normalize_name(std::string_view text) {
  Reference r = parse_reference(text);
  std::string out;
  if (r.domain == "docker.io" || r.domain == "index.docker.io") {
    out = r.path.starts_with("library/") && r.path.find('/', 8) == std::string::npos ? r.path.substr(8) : r.path;
    // A path whose first component looks like a host keeps its registry (as docker's familiar
    // names do): "index.docker.io/x" alone would name another registry's image.
    std::string_view head = std::string_view(out).substr(0, out.find('/'));
    if (out.find('/') != std::string::npos &&
        (head.find('.') != std::string_view::npos || head.find(':') != std::string_view::npos || head == "localhost"))
      out = "docker.io/" + out;
  } else {
    out = r.domain.empty() ? r.path : r.domain + "/" + r.path;
  }
  if (!r.tag.empty()) out += ":" + r.tag;
  if (!r.digest.empty()) out += "@" + r.digest;
  if (r.tag.empty() && r.digest.empty()) out += ":latest";
  return out;
}

}  // namespace kiln::image
