#include "engine/dockerfile_parser.hpp"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "common/error.hpp"

namespace kiln::engine {
namespace {

struct Keyword {
  const char* name;
  std::vector<const char*> flags;
  bool json_ok;  // exec form possible
};

const std::vector<Keyword>& df_keywords() {
  static const std::vector<Keyword> k = {
      {"FROM", {"platform"}, false},
      {"RUN", {"mount", "network", "security"}, true},
      {"CMD", {}, true},
      {"LABEL", {}, false},
      {"MAINTAINER", {}, false},
      {"EXPOSE", {}, false},
      {"ENV", {}, false},
      {"ADD", {"chown", "chmod", "link", "keep-git-dir", "checksum"}, true},
      {"COPY", {"from", "chown", "chmod", "link"}, true},
      {"ENTRYPOINT", {}, true},
      {"VOLUME", {}, true},
      {"USER", {}, false},
      {"WORKDIR", {}, false},
      {"ARG", {}, false},
      {"ONBUILD", {}, false},
      {"STOPSIGNAL", {}, false},
      {"HEALTHCHECK", {"interval", "timeout", "start-period", "start-interval", "retries"}, false},
      {"SHELL", {}, true},
  };
  return k;
}

[[noreturn]] void df_fail(const std::string& file, int line, const std::string& what) {
  throw Error(file + ":" + std::to_string(line) + ": " + what);
}

std::string df_upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool df_blank(char c) { return c == ' ' || c == '\t'; }

std::string_view df_trim(std::string_view s) {
  while (!s.empty() && df_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && (df_blank(s.back()) || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Leading "--name[=value]" words.
void df_take_flags(std::string_view& rest, Instruction& ins, const Keyword& kw, const std::string& file) {
  while (rest.size() > 2 && rest[0] == '-' && rest[1] == '-') {
    size_t end = 0;
    char quote = 0;
    while (end < rest.size()) {
      char c = rest[end];
      if (quote) {
        if (c == quote) quote = 0;
      } else if (c == '"' || c == '\'') {
        quote = c;
      } else if (df_blank(c)) {
        break;
      }
      ++end;
    }
    std::string_view word = rest.substr(2, end - 2);
    InstructionFlag f;
    size_t eq = word.find('=');
    f.name = std::string(word.substr(0, eq));
    if (eq != std::string_view::npos) {
      f.value = std::string(word.substr(eq + 1));
      f.has_value = true;
    }
    bool known = std::any_of(kw.flags.begin(), kw.flags.end(), [&](const char* n) { return f.name == n; });
    if (!known) {
      std::string expected;
      for (const char* n : kw.flags) expected += std::string(expected.empty() ? "" : ", ") + "--" + n;
      df_fail(file, ins.line,
              ins.keyword + ": unknown flag --" + f.name +
                  (expected.empty() ? " (it takes no flags)" : " (expected one of " + expected + ")"));
    }
    ins.flags.push_back(std::move(f));
    rest = df_trim(rest.substr(end));
  }
}

// A JSON array of strings, or nothing (docker then takes the text as the shell form).
bool df_parse_exec_form(std::string_view args, std::vector<std::string>& out) {
  if (args.empty() || args[0] != '[') return false;
  nlohmann::json j = nlohmann::json::parse(args, nullptr, false);
  if (j.is_discarded() || !j.is_array()) return false;
  std::vector<std::string> v;
  for (const auto& e : j) {
    if (!e.is_string()) return false;
    v.push_back(e.get<std::string>());
  }
  out = std::move(v);
  return true;
}

// Plain df_words (no expansion) for checks that do not depend on values.
std::vector<std::string_view> df_words(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && df_blank(s[i])) ++i;
    size_t start = i;
    while (i < s.size() && !df_blank(s[i])) ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

bool df_valid_stage_name(std::string_view n) {
  if (n.empty() || n.size() > 128 || !std::isalpha(static_cast<unsigned char>(n[0]))) return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '-' ||
           c == '_' || c == '.';
  });
}

Instruction df_parse_instruction(const LogicalLine& ll, const std::string& file) {
  Instruction ins;
  ins.line = ll.line;
  ins.text = ll.text;
  ins.heredocs = ll.heredocs;
  std::string_view t = df_trim(ll.text);
  size_t i = 0;
  while (i < t.size() && !df_blank(t[i])) ++i;
  ins.keyword = df_upper(t.substr(0, i));
  const Keyword* kw = nullptr;
  for (const auto& k : df_keywords())
    if (ins.keyword == k.name) kw = &k;
  if (!kw) {
    std::string shown(t.substr(0, std::min<size_t>(i, 40)));
    df_fail(file, ins.line, "unknown instruction " + shown + " (expected FROM, RUN, COPY, ADD, ENV, ARG, ...)");
  }
  if (ins.keyword == "ONBUILD")
    df_fail(file, ins.line, "ONBUILD is not supported: kiln build refuses triggers that run in other builds");
  std::string_view rest = df_trim(t.substr(i));
  df_take_flags(rest, ins, *kw, file);
  ins.args = std::string(rest);
  if (kw->json_ok) ins.exec_form = df_parse_exec_form(rest, ins.exec_args);

  const std::string& k = ins.keyword;
  auto need = [&](bool ok, const std::string& what) {
    if (!ok) df_fail(file, ins.line, k + " " + what);
  };
  auto n = df_words(rest).size();
  bool has_args = !rest.empty();
  if (k == "FROM") {
    need(n == 1 || n == 3, "expects IMAGE [AS NAME]");
    if (n == 3)
      need(df_upper(df_words(rest)[1]) == "AS",
           "expects IMAGE [AS NAME] (got \"" + std::string(df_words(rest)[1]) + "\" where AS belongs)");
  } else if (k == "RUN") {
    need(has_args || !ins.heredocs.empty(), "expects a command");
    need(!ins.exec_form || !ins.exec_args.empty(), "expects a command (the JSON array is empty)");
  } else if (k == "CMD" || k == "ENTRYPOINT") {
    need(has_args, "expects a command, in JSON form [\"executable\", \"arg\"] or as a shell line");
  } else if (k == "COPY" || k == "ADD") {
    if (ins.exec_form) need(ins.exec_args.size() >= 2, "expects at least one source and a destination");
    else need(n >= 2 || (n == 1 && !ins.heredocs.empty()), "expects at least one source and a destination");
    if (k == "ADD" && ins.flag("checksum")) df_fail(file, ins.line, "ADD --checksum: kiln build adds no URLs");
  } else if (k == "ENV" || k == "LABEL") {
    need(has_args, "expects NAME=VALUE");
  } else if (k == "ARG") {
    need(has_args, "expects NAME[=DEFAULT]");
  } else if (k == "USER" || k == "WORKDIR" || k == "STOPSIGNAL" || k == "MAINTAINER") {
    need(has_args, "expects one argument");
  } else if (k == "EXPOSE") {
    need(has_args, "expects PORT[/PROTOCOL]...");
  } else if (k == "VOLUME") {
    need(has_args && (!ins.exec_form || !ins.exec_args.empty()), "expects at least one path");
  } else if (k == "SHELL") {
    need(ins.exec_form, "expects a JSON array: SHELL [\"executable\", \"parameters\"]");
    need(!ins.exec_args.empty(), "expects at least the shell's executable");
  } else if (k == "HEALTHCHECK") {
    need(has_args, "expects NONE or CMD command");
  }
  if (!ins.heredocs.empty() && k != "RUN" && k != "COPY" && k != "ADD")
    df_fail(file, ins.line, k + " takes no heredoc");
  return ins;
}

}  // namespace

std::vector<std::string> Instruction::flag_values(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& f : flags)
    if (f.name == name) out.push_back(f.value);
  return out;
}

const InstructionFlag* Instruction::flag(std::string_view name) const {
  for (const auto& f : flags)
    if (f.name == name) return &f;
  return nullptr;
}

std::string where(const Dockerfile& df, const Instruction& ins) {
  return df.file + ":" + std::to_string(ins.line) + ": " + ins.keyword;
}

Dockerfile parse_dockerfile(std::string_view text, const std::string& file) {
  DockerfileLines lines = lex_dockerfile(text, file);
  Dockerfile df;
  df.file = file;
  df.escape = lines.escape;
  for (const auto& ll : lines.lines) {
    Instruction ins = df_parse_instruction(ll, file);
    if (ins.keyword == "FROM") {
      Stage st;
      st.index = df.stages.size();
      auto w = df_words(ins.args);
      if (w.size() == 3) {
        std::string name(w[2]);
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (!df_valid_stage_name(name))
          df_fail(file, ins.line,
                  "FROM: stage name \"" + std::string(w[2]) +
                      "\" is not valid (expected a letter, then letters, digits, '-', '_' or '.')");
        for (const auto& other : df.stages)
          if (other.name == name)
            df_fail(file, ins.line,
                    "FROM: stage name " + name + " is already used on line " + std::to_string(other.from.line));
        st.name = name;
      }
      st.from = std::move(ins);
      df.stages.push_back(std::move(st));
      continue;
    }
    if (df.stages.empty()) {
      if (ins.keyword != "ARG") df_fail(file, ins.line, ins.keyword + " before the first FROM (expected FROM or ARG)");
      df.global_args.push_back(std::move(ins));
      continue;
    }
    df.stages.back().instructions.push_back(std::move(ins));
  }
  if (df.stages.empty()) throw Error(file + ": no FROM instruction (expected FROM IMAGE first)");
  return df;
}

}  // namespace kiln::engine
