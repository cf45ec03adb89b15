#include "image/registries_conf.hpp"

#include <cpptoml.h>
#include <stdlib.h>

#include <sstream>

#include "common/error.hpp"
#include "common/files.hpp"

namespace kiln::image {

namespace {

constexpr size_t kMaxConfSize = 1 << 20;
constexpr int kMaxNesting = 16;
constexpr size_t kMaxEntries = 1024;

// cpptoml parses arrays and inline tables recursively: a hostile file of "[[[[..." would
// exhaust the stack. Brackets outside strings and comments are counted first.
bool nested_too_deeply(const std::string& text) {
  int depth = 0;
  char quote = 0;
  bool comment = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (comment) {
      comment = c != '\n';
    } else if (quote) {
      if (c == '\\' && quote == '"') ++i;
      else if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '#') {
      comment = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxNesting) return true;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return false;
}

bool host_in_domain(const std::string& host, const std::string& domain) {
  return host.size() > domain.size() && host.compare(host.size() - domain.size(), domain.size(), domain) == 0 &&
         host[host.size() - domain.size() - 1] == '.';
}

}  // namespace

RegistriesConf parse_registries_conf(const std::string& text, const std::string& file) {
  const std::string what = "registries.conf " + file;
  if (text.size() > kMaxConfSize) throw Error(what + ": larger than 1 MiB");
  if (nested_too_deeply(text)) throw Error(what + ": nested more than " + std::to_string(kMaxNesting) + " deep");
  RegistriesConf out;
  try {
    std::istringstream in(text);
    cpptoml::parser parser(in);
    std::shared_ptr<cpptoml::table> doc = parser.parse();
    if (doc->contains("unqualified-search-registries")) {
      auto list = doc->get_array_of<std::string>("unqualified-search-registries");
      if (!list) throw Error(what + ": unqualified-search-registries is not a list of strings");
      for (const auto& s : *list)
        if (!s.empty() && out.unqualified_search.size() < 32) out.unqualified_search.push_back(s);
    }
    if (doc->contains("registry")) {
      auto tables = doc->get_table_array("registry");
      if (!tables) throw Error(what + ": registry is not an array of tables ([[registry]])");
      for (const auto& t : *tables) {
        if (out.registries.size() >= kMaxEntries) throw Error(what + ": more than 1024 [[registry]] tables");
        RegistryEntry e;
        auto text_key = [&](const char* key) -> std::string {
          if (!t->contains(key)) return "";
          auto v = t->get_as<std::string>(key);
          if (!v) throw Error(what + ": [[registry]] " + key + " is not a string");
          return *v;
        };
        auto bool_key = [&](const char* key) {
          if (!t->contains(key)) return false;
          auto v = t->get_as<bool>(key);
          if (!v) throw Error(what + ": [[registry]] " + key + " is not true or false");
          return *v;
        };
        e.location = text_key("location");
        e.prefix = text_key("prefix");
        if (e.prefix.empty()) e.prefix = e.location;
        if (e.location.empty() && e.prefix.rfind("*.", 0) != 0) e.location = e.prefix;
        if (e.prefix.empty()) throw Error(what + ": a [[registry]] table with neither prefix nor location");
        e.insecure = bool_key("insecure");
        e.blocked = bool_key("blocked");
        out.registries.push_back(std::move(e));
      }
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& ex) {
    throw Error(what + ": " + ex.what());
  }
  return out;
}

std::string default_registries_conf() {
  const char* conf = ::getenv("CONTAINERS_REGISTRIES_CONF");
  return conf && *conf ? conf : "/etc/containers/registries.conf";
}

RegistriesConf load_registries_conf(const std::string& path) {
  if (!path_exists(path)) return {};
  return parse_registries_conf(read_file(path), path);
}

const RegistryEntry* match_registry(const RegistriesConf& conf, const std::string& name) {
  const RegistryEntry* best = nullptr;
  size_t best_len = 0;
  const std::string host = name.substr(0, name.find('/'));
  for (const auto& e : conf.registries) {
    size_t len = 0;
    if (e.prefix.rfind("*.", 0) == 0) {
      if (host_in_domain(host, e.prefix.substr(2))) len = e.prefix.size();
    } else if (name == e.prefix || (name.size() > e.prefix.size() && name.compare(0, e.prefix.size(), e.prefix) == 0 &&
                                    name[e.prefix.size()] == '/')) {
      len = e.prefix.size();
    }
    if (len > best_len) {
      best = &e;
      best_len = len;
    }
  }
  return best;
}

RegistryRoute route_for(const RegistriesConf& conf, const std::string& name, const std::string& file) {
  RegistryRoute r{name, false};
  const RegistryEntry* e = match_registry(conf, name);
  if (!e) return r;
  if (e->blocked) throw Error(name + ": registry " + e->prefix + " is blocked in " + file, EACCES);
  r.insecure = e->insecure;
  if (!e->location.empty() && e->prefix.rfind("*.", 0) != 0) r.name = e->location + name.substr(e->prefix.size());
  return r;
}

}  // namespace kiln::image
