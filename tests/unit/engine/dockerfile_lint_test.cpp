// Dockerfile pitfalls (engine/dockerfile_lint.hpp): each finding, clean files that must stay
// clean, and hostile input.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "common/files.hpp"
#include "engine/dockerfile_lint.hpp"
#include "engine/dockerfile_parser.hpp"

namespace kiln::engine {
namespace {

std::vector<BuildFinding> lint(const std::string& text, LintOptions o = {}) {
  return lint_dockerfile(parse_dockerfile(text, "Dockerfile"), o);
}

std::vector<std::string> rules(const std::vector<BuildFinding>& fs) {
  std::vector<std::string> out;
  for (const auto& f : fs) out.push_back(std::to_string(f.line) + " " + f.rule);
  return out;
}

using V = std::vector<std::string>;

TEST(DockerfileLint, SecretEnvAndArgNameTheStepNeverTheValue) {
  auto f = lint(
      "ARG GITHUB_TOKEN=ghp_verysecret\nFROM a\nENV DB_PASSWORD=hunter2 PATH=/bin\nARG NPM_TOKEN\n"
      "ENV API_KEY=$API_KEY\nENV PASSWORD_FILE=/run/secrets/pw\nENV EMPTY_TOKEN=\n");
  EXPECT_EQ(rules(f), (V{"1 secret-env", "3 secret-env", "5 secret-env"}));
  for (const auto& x : f) {
    EXPECT_EQ(describe(x).find("hunter2"), std::string::npos);
    EXPECT_EQ(describe(x).find("ghp_"), std::string::npos);
  }
  EXPECT_EQ(f[1].where, "Dockerfile:3: ENV");
  EXPECT_NE(f[1].message.find("DB_PASSWORD"), std::string::npos);
}

TEST(DockerfileLint, WholeContextCopyBeforeInstallNamesBothSteps) {
  auto f = lint("FROM node\nWORKDIR /app\nCOPY . .\nRUN npm ci\nRUN npm run build\n");
  ASSERT_EQ(rules(f), (V{"3 copy-before-install"}));
  EXPECT_EQ(f[0].where, "Dockerfile:3: COPY");
  EXPECT_NE(f[0].message.find("Dockerfile:4: RUN"), std::string::npos);
  EXPECT_EQ(rules(lint("FROM python\nCOPY ./ /src\nRUN pip3 install --no-cache-dir -r /src/requirements.txt\n")),
            (V{"2 copy-before-install"}));
  EXPECT_EQ(rules(lint("FROM debian\nCOPY * /x/\nRUN sudo apt-get -y install curl && rm -rf /var/lib/apt/lists/*\n")),
            (V{"2 copy-before-install"}));
}

TEST(DockerfileLint, ToolchainOnlyInASingleStageBuild) {
  auto f = lint(
      "FROM debian\nRUN apt-get update && apt-get install -y --no-install-recommends build-essential "
      "curl && rm -rf /var/lib/apt/lists/*\n");
  EXPECT_EQ(rules(f), (V{"2 toolchain-in-final-stage"}));
  EXPECT_NE(f[0].message.find("build-essential"), std::string::npos);
  EXPECT_EQ(rules(lint("FROM golang:1.22\nCOPY main.go .\nRUN go build -o /app main.go\n")),
            (V{"1 toolchain-in-final-stage"}));
  // Removed again in a later step: the layer still has it, but the final image does not.
  EXPECT_TRUE(lint("FROM alpine\nRUN apk add --no-cache gcc\nRUN apk del gcc\n").empty());
}

TEST(DockerfileLint, PackageCachesUnlessCleanedOrMounted) {
  EXPECT_EQ(rules(lint("FROM debian\nRUN apt-get update && apt-get install -y curl\n")), (V{"2 package-cache"}));
  EXPECT_EQ(rules(lint("FROM alpine\nRUN apk add curl\n")), (V{"2 package-cache"}));
  EXPECT_EQ(rules(lint("FROM python\nRUN python3 -m pip install flask\n")), (V{"2 package-cache"}));
  EXPECT_TRUE(lint("FROM python\nENV PIP_NO_CACHE_DIR=1\nRUN pip install flask\n").empty());
  EXPECT_TRUE(lint("FROM debian\nRUN --mount=type=cache,target=/var/lib/apt/lists apt-get update && apt-get "
                   "install -y curl\n")
                  .empty());
  // A build checks the layers instead.
  LintOptions o;
  o.layers_checked_later = true;
  EXPECT_TRUE(lint("FROM alpine\nRUN apk add curl\n", o).empty());
}

TEST(DockerfileLint, ANormalMultiStageFileIsClean) {
  const char* df = R"(# syntax=docker/dockerfile:1
ARG GO_VERSION=1.22
FROM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/root/.cache/go-build go mod download
COPY . .
RUN CGO_ENABLED=0 go build -o /out/app ./cmd/app

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
ENV APP_ENV=production TOKEN_FILE=/run/secrets/token
COPY --from=build /out/app /usr/local/bin/app
USER 1000
CMD ["app"]
)";
  EXPECT_TRUE(lint(df).empty()) << describe(lint(df).at(0));
  // Deps first, then the code: the pattern the copy-before-install finding recommends.
  EXPECT_TRUE(lint("FROM node\nWORKDIR /app\nCOPY package.json package-lock.json ./\nRUN npm ci\nCOPY . .\n"
                   "CMD [\"node\", \"index.js\"]\n")
                  .empty());
}

TEST(DockerfileLint, ContextSecretsThatACopyTakes) {
  char t[] = "/tmp/kiln-lint-test.XXXXXX";
  std::string dir = ::mkdtemp(t);
  mkdir_p(dir + "/conf");
  mkdir_p(dir + "/src");
  write_file(dir + "/.env", "API_TOKEN=abc\n");
  write_file(dir + "/conf/id_rsa", "x");
  write_file(dir + "/src/main.c", "int main(){}\n");
  LintOptions o;
  o.context = dir;
  auto f = lint("FROM a\nCOPY src /src\nCOPY conf/* /etc/app/\n", o);
  EXPECT_EQ(rules(f), (V{"3 secret-copied"}));
  EXPECT_EQ(f[0].path, "/conf/id_rsa");
  IgnoreRules ig = IgnoreRules::parse(".env\nconf\n");
  o.ignore = &ig;
  EXPECT_TRUE(lint("FROM a\nCOPY . /app\n", o).empty());
  o.ignore = nullptr;
  EXPECT_EQ(rules(lint("FROM a\nCOPY . /app\nCOPY --from=b / /\n", o)), (V{"2 secret-copied", "2 secret-copied"}));
  remove_tree(dir);
}

TEST(DockerfileLint, ShellCommandsSplitOnOperatorsAndQuotes) {
  auto c =
      shell_commands("A=1 sudo /usr/bin/apt-get -y install 'a b' && pip install x; echo \"apk add y\" | env npm ci");
  ASSERT_EQ(c.size(), 4u);
  EXPECT_EQ(c[0].program, "apt-get");
  EXPECT_EQ(c[0].words, (V{"-y", "install", "a b"}));
  EXPECT_EQ(c[1].program, "pip");
  EXPECT_EQ(c[2].program, "echo");  // a quoted "apk add" is an argument, not a command
  EXPECT_EQ(c[3].program, "npm");
}

TEST(DockerfileLint, HostileInputIsLinear) {
  // A huge RUN line, unbalanced quotes, deep operators and bad expansions: no crash, no blowup.
  std::string big = "FROM a\nRUN " + std::string(1 << 20, '&') + " apt-get install gcc " + std::string(200000, '"') +
                    "\nENV X_TOKEN=${unclosed\nCOPY ${bad . /x\nARG " + std::string(100000, 'K') + "_TOKEN=v\n";
  auto f = lint(big);
  EXPECT_EQ(rules(f), (V{"2 package-cache", "2 toolchain-in-final-stage", "5 secret-env"}));
  EXPECT_TRUE(shell_commands("").empty());
  EXPECT_LE(shell_commands("\\").size(), 1u);
}

}  // namespace
}  // namespace kiln::engine

namespace kiln::engine {
namespace {

TEST(DockerfileLint, FindingsRoundTripThroughJson) {
  std::vector<BuildFinding> f = {{"secret-env", "Dockerfile:2: ENV", 2, "", "m1"},
                                 {"deleted-later", "Dockerfile:4: RUN", 4, "/big", "m2"}};
  auto back = build_findings_from_json(build_findings_json(f));
  ASSERT_TRUE(back.has_value());
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ((*back)[1].path, "/big");
  EXPECT_EQ((*back)[0].message, "m1");
  EXPECT_FALSE(build_findings_from_json(nlohmann::json::parse("[{\"rule\": 1}]")).has_value());
  EXPECT_FALSE(build_findings_from_json(nlohmann::json::object()).has_value());
}

}  // namespace
}  // namespace kiln::engine
