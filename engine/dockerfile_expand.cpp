#include "engine/dockerfile_expand.hpp"

#include <cctype>

#include "common/error.hpp"

namespace kiln::engine {
namespace {

bool exp_name_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool exp_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool exp_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Nested ${A:-${B}} is bounded: a hostile line cannot recurse the stack away.
constexpr int exp_kMaxNesting = 16;

class Expander {
 public:
  Expander(std::string_view text, const BuildVars& vars, char escape, const std::string& what)
      : s_(text), vars_(vars), esc_(escape), what_(what) {}

  // Reads up to the end (or, inside ${...:-word}, up to the closing brace).
  std::string run(bool in_brace = false, int depth = 0) {
    std::string out;
    char quote = 0;
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      if (in_brace && !quote && c == '}') return out;
      if (quote == '\'') {
        if (c == '\'') quote = 0;
        else out.push_back(c);
        ++pos_;
        continue;
      }
      if (c == esc_ && pos_ + 1 < s_.size()) {
        // Inside double quotes the escape only escapes what is special there (docker: $ " \ `).
        char n = s_[pos_ + 1];
        if (quote == '"' && n != '$' && n != '"' && n != esc_) out.push_back(c);
        out.push_back(n);
        pos_ += 2;
        continue;
      }
      if (c == '\'' && !quote) {
        quote = '\'';
        ++pos_;
        continue;
      }
      if (c == '"') {
        quote = quote ? 0 : '"';
        ++pos_;
        continue;
      }
      if (c == '$') {
        out += dollar(depth);
        continue;
      }
      out.push_back(c);
      ++pos_;
    }
    if (quote) throw Error(what_ + ": unclosed " + std::string(quote == '"' ? "double" : "single") + " quote");
    if (in_brace) throw Error(what_ + ": ${ without a closing }");
    return out;
  }

 private:
  std::string lookup(const std::string& name, bool& set) const {
    auto it = vars_.find(name);
    set = it != vars_.end();
    return set ? it->second : std::string();
  }

  std::string dollar(int depth) {
    ++pos_;  // the $
    if (pos_ >= s_.size()) return "$";
    if (s_[pos_] == '{') {
      if (depth >= exp_kMaxNesting)
        throw Error(what_ + ": variables nested more than " + std::to_string(exp_kMaxNesting) + " deep");
      ++pos_;
      size_t start = pos_;
      while (pos_ < s_.size() && exp_name_char(s_[pos_])) ++pos_;
      std::string name(s_.substr(start, pos_ - start));
      if (name.empty() || !exp_name_start(name[0])) throw Error(what_ + ": ${ must be followed by a variable name");
      if (pos_ >= s_.size()) throw Error(what_ + ": ${" + name + " without a closing }");
      bool set = false;
      std::string value = lookup(name, set);
      char c = s_[pos_];
      if (c == '}') {
        ++pos_;
        return value;
      }
      bool colon = false;
      if (c == ':') {
        colon = true;
        ++pos_;
        if (pos_ >= s_.size()) throw Error(what_ + ": ${" + name + ": without a modifier");
        c = s_[pos_];
      }
      if (c != '-' && c != '+' && c != '?')
        throw Error(what_ + ": ${" + name + (colon ? ":" : "") + std::string(1, c) +
                    "...}: unsupported modifier (use :- :+ - + or ?)");
      ++pos_;
      std::string word = run(true, depth + 1);
      ++pos_;  // the }
      bool present = colon ? (set && !value.empty()) : set;
      if (c == '-') return present ? value : word;
      if (c == '+') return present ? word : "";
      if (!present) throw Error(what_ + ": " + name + (word.empty() ? " is not set" : ": " + word));
      return value;
    }
    if (!exp_name_start(s_[pos_])) return "$";
    size_t start = pos_;
    while (pos_ < s_.size() && exp_name_char(s_[pos_])) ++pos_;
    bool set = false;
    return lookup(std::string(s_.substr(start, pos_ - start)), set);
  }

  std::string_view s_;
  size_t pos_ = 0;
  const BuildVars& vars_;
  char esc_;
  const std::string& what_;
};

// Splits on blanks outside quotes (the escape character protects a blank); the pieces keep
// their quotes for the expander.
std::vector<std::string_view> exp_split_raw(std::string_view s, char esc, const std::string& what) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && exp_blank(s[i])) ++i;
    if (i >= s.size()) break;
    size_t start = i;
    char quote = 0;
    int brace = 0;
    while (i < s.size()) {
      char c = s[i];
      if (quote) {
        if (c == esc && quote == '"' && i + 1 < s.size()) {
          i += 2;
          continue;
        }
        if (c == quote) quote = 0;
        ++i;
        continue;
      }
      if (c == esc && i + 1 < s.size()) {
        i += 2;
        continue;
      }
      if (c == '\'' || c == '"') quote = c;
      else if (c == '$' && i + 1 < s.size() && s[i + 1] == '{') {
        ++brace;
        ++i;
      } else if (c == '}' && brace > 0) --brace;
      else if (exp_blank(c) && brace == 0) break;
      ++i;
    }
    if (quote) throw Error(what + ": unclosed " + std::string(quote == '"' ? "double" : "single") + " quote");
    out.push_back(s.substr(start, i - start));
  }
  return out;
}

}  // namespace

std::string expand_word(std::string_view text, const BuildVars& vars, char escape, const std::string& what) {
  return Expander(text, vars, escape, what).run();
}

std::vector<std::string> expand_words(std::string_view text, const BuildVars& vars, char escape,
                                      const std::string& what) {
  std::vector<std::string> out;
  for (auto w : exp_split_raw(text, escape, what)) out.push_back(expand_word(w, vars, escape, what));
  return out;
}

std::vector<KeyValue> expand_key_values(std::string_view text, const BuildVars& vars, char escape,
                                        const std::string& what, bool legacy_ok, bool bare_keys_ok) {
  auto raw = exp_split_raw(text, escape, what);
  std::vector<KeyValue> out;
  if (raw.empty()) return out;
  auto valid_key = [&](const std::string& k) {
    if (k.empty()) throw Error(what + ": a name is empty (expected NAME=VALUE)");
    for (char c : k)
      if (exp_blank(c) || c == '=') throw Error(what + ": \"" + k + "\" is not a valid name");
  };
  if (raw[0].find('=') == std::string_view::npos && legacy_ok && raw.size() > 1) {
    // Legacy `ENV NAME value with spaces`: the rest of the line, blanks kept.
    std::string key = expand_word(raw[0], vars, escape, what);
    valid_key(key);
    size_t rest = static_cast<size_t>(raw[1].data() - text.data());
    std::string_view value = text.substr(rest);
    while (!value.empty() && exp_blank(value.back())) value.remove_suffix(1);
    out.push_back({key, expand_word(value, vars, escape, what), true});
    return out;
  }
  for (auto w : raw) {
    size_t eq = w.find('=');
    if (eq == std::string_view::npos) {
      if (!bare_keys_ok) throw Error(what + ": " + std::string(w) + ": expected NAME=VALUE");
      std::string key = expand_word(w, vars, escape, what);
      valid_key(key);
      out.push_back({key, "", false});
      continue;
    }
    // The name is taken as written (docker does not expand names); the value is expanded.
    std::string key(w.substr(0, eq));
    valid_key(key);
    out.push_back({key, expand_word(w.substr(eq + 1), vars, escape, what), true});
  }
  return out;
}

}  // namespace kiln::engine
