// docker's --env-file format and -e NAME: values come from the file or kiln's environment,
// errors name file and line but never a value.
#include <gtest/gtest.h>

#include <map>

#include "common/error.hpp"
#include "runtime/env_file.hpp"

using namespace kiln;
using namespace kiln::runtime;

namespace {

EnvLookup fake_env(std::map<std::string, std::string> vars) {
  return [vars](const std::string& k) -> std::optional<std::string> {
    auto it = vars.find(k);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

}  // namespace

TEST(EnvFile, Format) {
  std::string text =
      "# comment\n"
      "\n"
      "   \n"
      "A=1\n"
      "  B=two words \n"
      "C=\"quoted\"\n"
      "D=\n"
      "E=x=y\n"
      "FROM_HOST\n"
      "MISSING\n"
      "  # indented comment\n"
      "F=crlf\r\n"
      "LAST=no newline";
  auto env = parse_env_file_text(text, "f.env", fake_env({{"FROM_HOST", "h"}}));
  std::vector<std::string> want = {"A=1", "B=two words ", "C=\"quoted\"", "D=", "E=x=y", "FROM_HOST=h", "F=crlf", "LAST=no newline"};
  EXPECT_EQ(env, want);
}

TEST(EnvFile, ErrorsNameFileAndLineNotValue) {
  try {
    parse_env_file_text("OK=1\n=hunter2\n", "my.env", fake_env({}));
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "--env-file my.env line 2: empty variable name");
  }
  try {
    parse_env_file_text("BAD KEY=hunter2\n", "my.env", fake_env({}));
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "--env-file my.env line 1: variable name \"BAD KEY\" contains whitespace");
    EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos);
  }
}

TEST(EnvFile, UnreadableFile) {
  try {
    read_env_file("/nonexistent/x.env", fake_env({}));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("--env-file /nonexistent/x.env: ", 0), 0u) << e.what();
  }
}

TEST(EnvFlag, BareNameTakesKilnsEnvironment) {
  auto env = fake_env({{"TOKEN", "abc"}});
  EXPECT_EQ(*resolve_env_flag("TOKEN", env), "TOKEN=abc");
  EXPECT_FALSE(resolve_env_flag("NOPE", env));
  EXPECT_EQ(*resolve_env_flag("K=V", env), "K=V");
  EXPECT_EQ(*resolve_env_flag("K=", env), "K=");
  EXPECT_THROW(resolve_env_flag("=v", env), Error);
  EXPECT_THROW(resolve_env_flag("", env), Error);
}
