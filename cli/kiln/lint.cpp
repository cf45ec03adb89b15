// kiln lint [--json] [--context DIR] [DOCKERFILE]: the pitfalls `kiln build` warns about that
// the Dockerfile alone shows (engine/dockerfile_lint.hpp), without building. The context
// (default: the Dockerfile's directory) is scanned for files kiln scan would flag that a
// COPY/ADD takes in. Exit status: 0 clean, 1 findings (so CI can fail on them), 125 kiln failed.
#include <cstdio>
#include <memory>

#include "cli/command_registry.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "engine/build_ignore.hpp"
#include "engine/dockerfile_lint.hpp"
#include "engine/dockerfile_parser.hpp"

namespace {

struct State {
  std::string dockerfile = "Dockerfile";
  std::string context;
  std::string target;
  bool json = false;
};

kiln::cli::RegisterCommand reg(
    "lint", "Report Dockerfile pitfalls: baked-in secrets, cache-defeating order, bloat",
    [](kiln::cli::Command& sub) -> kiln::cli::Action {
      auto s = std::make_shared<State>();
      sub.add_option("DOCKERFILE", s->dockerfile, "the Dockerfile (default ./Dockerfile)");
      sub.add_option("--context", s->context, "the build context (default: the Dockerfile's directory)");
      sub.add_option("--target", s->target, "the stage that is the final image (default: the last)");
      sub.add_flag("--json", s->json, "machine-readable output");
      return [s] {
        std::string text = kiln::with_context("read " + s->dockerfile, [&] { return kiln::read_file(s->dockerfile); });
        size_t slash = s->dockerfile.rfind('/');
        std::string label = slash == std::string::npos ? s->dockerfile : s->dockerfile.substr(slash + 1);
        kiln::engine::Dockerfile df = kiln::engine::parse_dockerfile(text, label);
        kiln::engine::LintOptions o;
        o.context = !s->context.empty()          ? s->context
                    : slash == std::string::npos ? std::string(".")
                                                 : s->dockerfile.substr(0, slash + 1);
        kiln::engine::IgnoreRules ignore;
        if (auto ig = kiln::read_file_if_exists(o.context + "/.dockerignore"))
          ignore = kiln::engine::IgnoreRules::parse(*ig);
        o.ignore = &ignore;
        o.target = s->target;
        auto findings = kiln::engine::lint_dockerfile(df, o);
        if (s->json) {
          nlohmann::json out = {{"dockerfile", s->dockerfile},
                                {"findings", kiln::engine::build_findings_json(findings)}};
          std::printf("%s\n", out.dump(2).c_str());
        } else {
          for (const auto& f : findings) std::printf("%s\n", kiln::engine::describe(f).c_str());
        }
        return findings.empty() ? 0 : 1;
      };
    });

}  // namespace
