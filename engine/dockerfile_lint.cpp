#include "engine/dockerfile_lint.hpp"

#include <algorithm>
#include <set>

#include "common/error.hpp"
#include "engine/dockerfile_expand.hpp"
#include "image/secret_scan.hpp"

namespace kiln::engine {
namespace {

std::string base_name(const std::string& w) {
  size_t s = w.rfind('/');
  return s == std::string::npos ? w : w.substr(s + 1);
}

bool has_word(const std::vector<std::string>& words, std::string_view w) {
  return std::find(words.begin(), words.end(), w) != words.end();
}

// What a package manager command does to packages.
struct PackageOp {
  enum class Kind { none, install, remove } kind = Kind::none;
  std::string manager;  // apt, apk, pip, npm, ...
  std::vector<std::string> packages;
  bool no_cache = false;  // apk --no-cache, pip --no-cache-dir
};

// The words after the verb that name packages (flags and their values dropped roughly).
std::vector<std::string> operands(const std::vector<std::string>& words, size_t from) {
  std::vector<std::string> out;
  for (size_t i = from; i < words.size(); ++i)
    if (!words[i].empty() && words[i][0] != '-') out.push_back(words[i]);
  return out;
}

PackageOp package_op(const ShellCommand& c) {
  PackageOp op;
  const auto& w = c.words;
  auto verb_at = [&](std::initializer_list<std::string_view> verbs) -> size_t {
    for (size_t i = 0; i < w.size(); ++i) {
      if (!w[i].empty() && w[i][0] == '-') continue;
      for (auto v : verbs)
        if (w[i] == v) return i;
      return std::string::npos;  // the first non-flag word is the verb
    }
    return std::string::npos;
  };
  std::string p = c.program;
  size_t at = std::string::npos;
  if (p == "apt-get" || p == "apt" || p == "aptitude") {
    op.manager = "apt";
    if ((at = verb_at({"install"})) != std::string::npos) op.kind = PackageOp::Kind::install;
    else if ((at = verb_at({"remove", "purge", "autoremove"})) != std::string::npos) op.kind = PackageOp::Kind::remove;
  } else if (p == "apk") {
    op.manager = "apk";
    if ((at = verb_at({"add"})) != std::string::npos) op.kind = PackageOp::Kind::install;
    else if ((at = verb_at({"del"})) != std::string::npos) op.kind = PackageOp::Kind::remove;
    op.no_cache = has_word(w, "--no-cache");
  } else if (p == "pip" || p == "pip3" || p.rfind("pip3.", 0) == 0 ||
             ((p == "python" || p == "python3") && w.size() >= 2 && w[0] == "-m" && w[1] == "pip")) {
    op.manager = "pip";
    size_t skip = p.rfind("pip", 0) == 0 ? 0 : 2;
    ShellCommand rest{"pip", {w.begin() + static_cast<long>(skip), w.end()}};
    for (size_t i = 0; i < rest.words.size(); ++i)
      if (rest.words[i] == "install") {
        op.kind = PackageOp::Kind::install;
        op.packages = operands(rest.words, i + 1);
        break;
      } else if (rest.words[i] == "uninstall") {
        op.kind = PackageOp::Kind::remove;
        break;
      }
    op.no_cache = has_word(w, "--no-cache-dir");
    return op;
  } else if (p == "npm" || p == "pnpm" || p == "yarn") {
    op.manager = p;
    if ((at = verb_at({"install", "ci", "i", "add"})) != std::string::npos) op.kind = PackageOp::Kind::install;
    else if (p == "yarn" && operands(w, 0).empty()) {
      op.kind = PackageOp::Kind::install;
      at = w.size();
    }
  } else if (p == "gem" || p == "bundle" || p == "composer" || p == "poetry" || p == "pipenv") {
    op.manager = p;
    if ((at = verb_at({"install"})) != std::string::npos) op.kind = PackageOp::Kind::install;
  } else if (p == "go") {
    op.manager = "go";
    if (w.size() >= 2 && w[0] == "mod" && w[1] == "download") {
      op.kind = PackageOp::Kind::install;
      at = 1;
    }
  } else if (p == "cargo") {
    op.manager = "cargo";
    if ((at = verb_at({"fetch"})) != std::string::npos) op.kind = PackageOp::Kind::install;
  }
  if (op.kind != PackageOp::Kind::none && at != std::string::npos && at < w.size()) op.packages = operands(w, at + 1);
  return op;
}

// Packages (apt, apk) that are a compiler or build tool.
bool toolchain_package(const std::string& pkg) {
  std::string n = pkg.substr(0, pkg.find_first_of("=:"));  // apt's pkg=version, pkg:arch
  static const std::set<std::string> names = {
      "gcc",         "g++",        "clang",    "make",      "cmake",     "build-essential",
      "build-base",  "alpine-sdk", "golang",   "go",        "golang-go", "cargo",
      "rustc",       "rust",       "musl-dev", "libc6-dev", "maven",     "gradle",
      "ninja-build", "autoconf",   "automake", "libtool",   "gfortran",  "nodejs-dev"};
  if (names.count(n)) return true;
  for (const char* prefix : {"gcc-", "g++-", "clang-", "golang-1", "openjdk-"})
    if (n.rfind(prefix, 0) == 0 && (std::string(prefix) != "openjdk-" || n.find("-jdk") != std::string::npos))
      return true;
  return false;
}

// Base images whose point is a compiler: a single-stage build on one ships it.
bool toolchain_image(const std::string& ref) {
  std::string name = ref.substr(0, ref.find_first_of(":@"));
  name = base_name(name);
  static const std::set<std::string> names = {"golang", "rust", "gcc", "maven", "gradle", "openjdk"};
  return names.count(name) > 0;
}

// The RUN's shell text, heredoc bodies included.
std::string run_text(const Instruction& ins) {
  std::string t;
  if (ins.exec_form) {
    for (const auto& a : ins.exec_args) t += a + " ";
  } else {
    t = ins.args;
  }
  for (const auto& h : ins.heredocs) t += "\n" + h.body;
  return t;
}

bool has_cache_mount(const Instruction& ins) {
  for (const auto& m : ins.flag_values("mount"))
    if (m.find("type=cache") != std::string::npos) return true;
  return false;
}

std::string join_words(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

std::string short_text(const Instruction& ins) {
  std::string t = ins.text;
  for (auto& c : t)
    if (c == '\n' || c == '\t') c = ' ';
  return t.size() > 60 ? t.substr(0, 57) + "..." : t;
}

class Linter {
 public:
  Linter(const Dockerfile& df, const LintOptions& o) : df_(df), o_(o) {}

  std::vector<BuildFinding> run() {
    for (const auto& a : df_.global_args) secret_vars(a, false);
    size_t final_stage = df_.stages.empty() ? 0 : df_.stages.size() - 1;
    if (!o_.target.empty())
      for (const auto& s : df_.stages)
        if (s.name == o_.target) final_stage = s.index;
    if (!o_.context.empty()) context_secrets();
    for (const auto& s : df_.stages) {
      if (s.index > final_stage) break;
      stage(s, s.index == final_stage, df_.stages.size() == 1);
    }
    std::stable_sort(out_.begin(), out_.end(), [](const auto& x, const auto& y) { return x.line < y.line; });
    return std::move(out_);
  }

 private:
  void add(const Instruction& ins, std::string rule, std::string message, std::string path = "") {
    out_.push_back({std::move(rule), where(df_, ins), ins.line, std::move(path), std::move(message)});
  }

  void secret_vars(const Instruction& ins, bool env) {
    std::vector<KeyValue> kvs;
    try {
      kvs = expand_key_values(ins.args, {}, df_.escape, where(df_, ins), env, !env);
    } catch (const Error&) {
      return;  // the build reports what is wrong with it
    }
    bool refers = ins.args.find('$') != std::string::npos;  // ENV TOKEN=$TOKEN bakes the arg's value
    for (const auto& kv : kvs) {
      if (!kv.has_value || (kv.value.empty() && !refers) || !image::credential_like_name(kv.key)) continue;
      add(ins, "secret-env",
          kv.key + " looks like a credential and is given a value: " +
              (env ? "ENV values are stored in the image config, readable by anyone with the image"
                   : "ARG values reach every RUN's environment and the build cache") +
              "; use RUN --mount=type=secret,id=... and kiln build --secret instead");
    }
  }

  void stage(const Stage& s, bool is_final, bool single_stage) {
    const Instruction* whole_copy = nullptr;
    struct Tool {
      const Instruction* ins;
      std::vector<std::string> packages;
    };
    std::vector<Tool> tools;
    bool pip_no_cache_env = false;
    if (single_stage && is_final) {
      std::vector<std::string> w;
      try {
        w = expand_words(s.from.args, {}, df_.escape, where(df_, s.from));
      } catch (const Error&) {
      }
      if (!w.empty() && toolchain_image(w[0]))
        add(s.from, "toolchain-in-final-stage",
            w[0] +
                " is a build toolchain image and this single-stage build ships it whole; build in a first "
                "stage and COPY --from=it only the result into a small final stage");
    }
    for (const auto& ins : s.instructions) {
      const std::string& k = ins.keyword;
      if (k == "ENV" || k == "ARG") {
        secret_vars(ins, k == "ENV");
        if (k == "ENV" && ins.args.find("PIP_NO_CACHE_DIR") != std::string::npos) pip_no_cache_env = true;
      } else if ((k == "COPY" || k == "ADD") && !ins.flag("from") && !whole_copy && copies_whole_context(ins)) {
        whole_copy = &ins;
      } else if (k == "RUN") {
        std::string text = run_text(ins);
        bool cache_mount = has_cache_mount(ins);
        std::set<std::string> cache_warned;
        for (const auto& c : shell_commands(text)) {
          PackageOp op = package_op(c);
          if (op.kind == PackageOp::Kind::install && whole_copy) {
            add(*whole_copy, "copy-before-install",
                "copies the whole context before " + where(df_, ins) + " (" + short_text(ins) +
                    "): any change to any file in the context redoes that install; COPY only the dependency "
                    "list (package.json, requirements.txt, go.mod...) first, install, then COPY the rest");
            whole_copy = nullptr;  // one finding per copy
          }
          if (op.kind == PackageOp::Kind::install && single_stage && is_final)
            for (const auto& p : op.packages)
              if (toolchain_package(p)) {
                bool found = false;
                for (auto& t : tools)
                  if (t.ins == &ins) t.packages.push_back(p), found = true;
                if (!found) tools.push_back({&ins, {p}});
              }
          if (op.kind == PackageOp::Kind::remove)
            for (auto& t : tools)
              std::erase_if(t.packages, [&](const std::string& p) { return has_word(op.packages, p); });
          if (op.kind == PackageOp::Kind::install && is_final && !o_.layers_checked_later && !cache_mount &&
              !cache_warned.count(op.manager)) {
            std::string cache = leftover_cache(op, text, pip_no_cache_env);
            if (!cache.empty()) {
              cache_warned.insert(op.manager);
              add(ins, "package-cache",
                  "leaves the " + op.manager + " cache (" + cache +
                      ") in its layer; remove it in the same RUN or use RUN --mount=type=cache,target=" + cache,
                  cache);
            }
          }
        }
      }
    }
    for (const auto& t : tools)
      if (!t.packages.empty())
        add(*t.ins, "toolchain-in-final-stage",
            "installs a build toolchain (" + join_words(t.packages) +
                ") into the final image of this single-stage build; build in a first stage and COPY --from=it "
                "only the result into a small final stage");
  }

  static std::string leftover_cache(const PackageOp& op, const std::string& text, bool pip_env) {
    auto mentions = [&](std::string_view s) { return text.find(s) != std::string::npos; };
    if (op.manager == "apt" && !mentions("/var/lib/apt/lists")) return "/var/lib/apt/lists";
    if (op.manager == "apk" && !op.no_cache && !mentions("/var/cache/apk")) return "/var/cache/apk";
    if (op.manager == "pip" && !op.no_cache && !pip_env && !mentions("/.cache/pip") && !mentions("pip cache purge"))
      return "/root/.cache/pip";
    return "";
  }

  // COPY . dst, COPY ./ dst, COPY * dst: the sources are the whole context.
  bool copies_whole_context(const Instruction& ins) const {
    for (const auto& src : sources(ins)) {
      CleanPath c = clean_relative(src);
      if (c.parts.empty() || (c.parts.size() == 1 && c.parts[0] == "*")) return true;
    }
    return false;
  }

  std::vector<std::string> sources(const Instruction& ins) const {
    std::vector<std::string> w;
    if (ins.exec_form) {
      w = ins.exec_args;
    } else {
      try {
        w = expand_words(ins.args, {}, df_.escape, where(df_, ins));
      } catch (const Error&) {
        return {};
      }
    }
    if (!w.empty()) w.pop_back();  // the destination
    return w;
  }

  // Files of the context kiln scan flags, that a COPY/ADD of the context takes in.
  void context_secrets() {
    std::vector<image::SecretFinding> found;
    try {
      found = image::scan_layer_dir(o_.context);
    } catch (const Error&) {
      return;  // an unreadable context fails the build, not the lint
    }
    for (const auto& f : found) {
      std::string rel = f.path.substr(1);
      if (o_.ignore && o_.ignore->excluded(rel)) continue;
      CleanPath p = clean_relative(rel);
      for (const auto& s : df_.stages)
        for (const auto& ins : s.instructions) {
          if ((ins.keyword != "COPY" && ins.keyword != "ADD") || ins.flag("from")) continue;
          for (const auto& src : sources(ins)) {
            CleanPath c = clean_relative(src);
            if (c.climbs_out || c.parts.size() > p.parts.size()) continue;
            std::vector<std::string> prefix(p.parts.begin(), p.parts.begin() + static_cast<long>(c.parts.size()));
            if (!glob_match(c.parts, prefix)) continue;
            add(ins, "secret-copied",
                "copies " + f.path + " from the context, which kiln scan flags (" + f.kind +
                    "): anyone with the image can read it; add it to .dockerignore or pass it with --secret",
                f.path);
            break;
          }
        }
    }
  }

  const Dockerfile& df_;
  const LintOptions& o_;
  std::vector<BuildFinding> out_;
};

}  // namespace

std::vector<ShellCommand> shell_commands(std::string_view text) {
  std::vector<ShellCommand> out;
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  auto end_word = [&] {
    if (in_word) words.push_back(std::move(word));
    word.clear();
    in_word = false;
  };
  auto end_command = [&] {
    end_word();
    size_t i = 0;
    // Wrappers and assignments before the program.
    while (i < words.size() &&
           (words[i] == "sudo" || words[i] == "env" || words[i] == "exec" || words[i] == "command" ||
            words[i] == "then" || words[i] == "do" || (words[i].find('=') != std::string::npos && words[i][0] != '-')))
      ++i;
    if (i < words.size()) {
      ShellCommand c{base_name(words[i]), {words.begin() + static_cast<long>(i) + 1, words.end()}};
      out.push_back(std::move(c));
    }
    words.clear();
  };
  char quote = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quote) {
      if (c == quote) quote = 0;
      else word += c;
      continue;
    }
    if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (c == '\\' && i + 1 < text.size()) {
      ++i;
      if (text[i] != '\n') word += text[i], in_word = true;
    } else if (c == ' ' || c == '\t') {
      end_word();
    } else if (c == ';' || c == '&' || c == '|' || c == '\n' || c == '(' || c == ')' || c == '`' || c == '{' ||
               c == '}') {
      end_command();
    } else {
      word += c;
      in_word = true;
    }
  }
  end_command();
  return out;
}

std::vector<BuildFinding> lint_dockerfile(const Dockerfile& df, const LintOptions& options) {
  return Linter(df, options).run();
}

std::string describe(const BuildFinding& f) { return f.where + ": " + f.message; }

nlohmann::json build_findings_json(const std::vector<BuildFinding>& findings) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& f : findings) {
    nlohmann::json j = {{"rule", f.rule}, {"where", f.where}, {"line", f.line}, {"message", f.message}};
    if (!f.path.empty()) j["path"] = f.path;
    out.push_back(j);
  }
  return out;
}

std::optional<std::vector<BuildFinding>> build_findings_from_json(const nlohmann::json& j) {
  if (!j.is_array()) return std::nullopt;
  std::vector<BuildFinding> out;
  try {
    for (const auto& e : j)
      out.push_back({e.at("rule").get<std::string>(), e.at("where").get<std::string>(), e.at("line").get<int>(),
                     e.value("path", std::string()), e.at("message").get<std::string>()});
  } catch (const std::exception&) {
    return std::nullopt;
  }
  return out;
}

}  // namespace kiln::engine
