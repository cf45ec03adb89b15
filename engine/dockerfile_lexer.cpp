#include "engine/dockerfile_lexer.hpp"

#include <cctype>

#include "common/error.hpp"

namespace kiln::engine {
namespace {

std::string_view lex_trim_left(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  return s.substr(i);
}

std::string_view lex_trim_right(std::string_view s) {
  size_t n = s.size();
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) --n;
  return s.substr(0, n);
}

std::string lex_lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

[[noreturn]] void lex_fail(const std::string& file, int line, const std::string& what) {
  throw Error(file + ":" + std::to_string(line) + ": " + what);
}

// "# key=value" with a key of letters only: a parser directive (else an ordinary comment).
bool lex_parse_directive(std::string_view line, std::string& key, std::string& value) {
  line = lex_trim_left(line);
  if (line.empty() || line[0] != '#') return false;
  line = lex_trim_left(line.substr(1));
  size_t i = 0;
  while (i < line.size() && std::isalpha(static_cast<unsigned char>(line[i]))) ++i;
  if (i == 0) return false;
  std::string_view k = line.substr(0, i);
  std::string_view rest = lex_trim_left(line.substr(i));
  if (rest.empty() || rest[0] != '=') return false;
  key = lex_lower(k);
  value = std::string(lex_trim_right(lex_trim_left(rest.substr(1))));
  return true;
}

bool lex_heredoc_instruction(std::string_view text) {
  text = lex_trim_left(text);
  size_t i = 0;
  while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
  std::string kw = lex_lower(text.substr(0, i));
  return kw == "run" || kw == "copy" || kw == "add";
}

bool lex_word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.'; }

}  // namespace

std::vector<HeredocMarker> find_heredoc_markers(std::string_view line) {
  std::vector<HeredocMarker> out;
  std::string_view t = lex_trim_left(line);
  if (!t.empty() && t[0] == '[') return out;  // exec form has no heredocs
  char quote = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quote) {
      if (c == quote) quote = 0;
      continue;
    }
    if (c == '\'' || c == '"') {
      quote = c;
      continue;
    }
    if (c != '<' || i + 1 >= line.size() || line[i + 1] != '<') continue;
    if (i + 2 < line.size() && line[i + 2] == '<') {  // <<< is a here-string, not a heredoc
      i += 2;
      continue;
    }
    HeredocMarker m;
    m.begin = i;
    size_t j = i + 2;
    if (j < line.size() && line[j] == '-') {
      m.strip_tabs = true;
      ++j;
    }
    char q = 0;
    if (j < line.size() && (line[j] == '"' || line[j] == '\'')) {
      q = line[j];
      m.expand = false;
      ++j;
    }
    size_t w = j;
    while (j < line.size() && lex_word_char(line[j])) ++j;
    if (j == w) continue;  // "<<" without a word: not a heredoc (a shell redirection typo)
    m.name = std::string(line.substr(w, j - w));
    if (q) {
      if (j >= line.size() || line[j] != q) continue;
      ++j;
    }
    m.end = j;
    out.push_back(std::move(m));
    i = j - 1;
  }
  return out;
}

DockerfileLines lex_dockerfile(std::string_view text, const std::string& file) {
  if (text.size() > kMaxDockerfileSize)
    throw Error(file + ": " + std::to_string(text.size()) + " bytes, more than the " +
                std::to_string(kMaxDockerfileSize) + " a Dockerfile may have");
  if (text.find('\0') != std::string_view::npos) {
    size_t nul = text.find('\0');
    int ln = 1;
    for (size_t i = 0; i < nul; ++i) ln += text[i] == '\n';
    lex_fail(file, ln, "a NUL byte: a Dockerfile is text");
  }
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // a UTF-8 byte order mark

  // Physical lines, without their newline.
  std::vector<std::string_view> phys;
  for (size_t pos = 0; pos <= text.size();) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) {
      if (pos < text.size()) phys.push_back(text.substr(pos));
      break;
    }
    phys.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }

  DockerfileLines out;
  size_t i = 0;
  // Directives: only at the very top.
  bool seen_escape = false, seen_syntax = false;
  for (; i < phys.size(); ++i) {
    std::string key, value;
    if (!lex_parse_directive(phys[i], key, value)) break;
    int ln = static_cast<int>(i) + 1;
    if (key == "escape") {
      if (seen_escape) lex_fail(file, ln, "the escape directive is given twice");
      if (value != "\\" && value != "`") lex_fail(file, ln, "escape must be \\ or ` (got \"" + value + "\")");
      out.escape = value[0];
      seen_escape = true;
    } else if (key == "syntax") {  // a frontend image: kiln has one parser, so it is ignored
      if (seen_syntax) lex_fail(file, ln, "the syntax directive is given twice");
      seen_syntax = true;
    }
    // other keys (check=...) are comments to kiln
  }

  const char esc = out.escape;
  while (i < phys.size()) {
    std::string_view first = lex_trim_right(phys[i]);
    std::string_view stripped = lex_trim_left(first);
    if (stripped.empty() || stripped[0] == '#') {
      ++i;
      continue;
    }
    LogicalLine ll;
    ll.line = static_cast<int>(i) + 1;
    std::string joined;
    std::string_view cur = first;
    for (;;) {
      bool continues = !cur.empty() && cur.back() == esc;
      if (continues) cur.remove_suffix(1);
      joined.append(cur);
      ++i;
      if (!continues) break;
      // Comment lines and empty lines inside a continuation are dropped (docker does so too).
      while (i < phys.size()) {
        std::string_view s = lex_trim_left(lex_trim_right(phys[i]));
        if (!s.empty() && s[0] == '#') {
          ++i;
          continue;
        }
        if (s.empty()) {
          ++i;
          continue;
        }
        break;
      }
      if (i >= phys.size()) break;  // a continuation at the end of the file ends the line
      cur = lex_trim_right(phys[i]);
    }
    ll.text = std::string(lex_trim_left(joined));
    if (lex_heredoc_instruction(ll.text)) {
      auto markers = find_heredoc_markers(ll.text);
      if (markers.size() > kMaxHeredocsPerLine)
        lex_fail(file, ll.line, "more than " + std::to_string(kMaxHeredocsPerLine) + " heredocs in one instruction");
      for (const auto& m : markers) {
        Heredoc h{m.name, "", m.strip_tabs, m.expand};
        bool closed = false;
        while (i < phys.size()) {
          std::string_view body = phys[i];
          ++i;
          if (!body.empty() && body.back() == '\r') body.remove_suffix(1);
          std::string_view cmp = body;
          if (h.strip_tabs)
            while (!cmp.empty() && cmp[0] == '\t') cmp.remove_prefix(1);
          if (cmp == h.name) {
            closed = true;
            break;
          }
          h.body.append(h.strip_tabs ? cmp : body);
          h.body.push_back('\n');
        }
        if (!closed)
          lex_fail(file, ll.line, "heredoc <<" + h.name + " is not terminated (expected a line \"" + h.name + "\")");
        ll.heredocs.push_back(std::move(h));
      }
    }
    out.lines.push_back(std::move(ll));
  }
  return out;
}

}  // namespace kiln::engine
