// docker's --env-file format and -e NAME (parsers in engine/container_spec.hpp): values come from
// the file or kiln's environment, errors name file and line but never a value.
#include <gtest/gtest.h>

#include <cstring>

#include "common/error.hpp"
#include "engine/container_spec.hpp"

using namespace kiln;
using namespace kiln::engine;

namespace {

const char* fake_env(const char* key) {
  if (std::strcmp(key, "FROM_HOST") == 0) return "h";
  if (std::strcmp(key, "TOKEN") == 0) return "abc";
  return nullptr;
}

std::string error_of(const std::string& text) {
  try {
    parse_env_file_text(text, "my.env", fake_env);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
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
  auto env = parse_env_file_text(text, "f.env", fake_env);
  std::vector<std::string> want = {
      "A=1", "B=two words ", "C=\"quoted\"", "D=", "E=x=y", "FROM_HOST=h", "F=crlf", "LAST=no newline"};
  EXPECT_EQ(env, want);
}

TEST(EnvFile, ErrorsNameFileAndLineNotValue) {
  std::string e1 = error_of("OK=1\n=hunter2\n");
  EXPECT_NE(e1.find("my.env"), std::string::npos) << e1;
  EXPECT_NE(e1.find("line 2"), std::string::npos) << e1;
  EXPECT_EQ(e1.find("hunter2"), std::string::npos) << e1;
  std::string e2 = error_of("\n\nBAD KEY=hunter2\n");
  EXPECT_NE(e2.find("line 3"), std::string::npos) << e2;
  EXPECT_EQ(e2.find("hunter2"), std::string::npos) << e2;
  // A line missing its '=' must not quote what follows the space (found by env_file_fuzz).
  std::string e3 = error_of("PASSWORD hunter2\n");
  EXPECT_NE(e3.find("line 1"), std::string::npos) << e3;
  EXPECT_EQ(e3.find("hunter2"), std::string::npos) << e3;
  std::string e4 = error_of(std::string("NUL\0hunter2=x\n", 15));
  EXPECT_NE(e4.find("NUL byte"), std::string::npos) << e4;
  EXPECT_EQ(e4.find("hunter2"), std::string::npos) << e4;
}

TEST(EnvFlag, BareNameTakesKilnsEnvironment) {
  EXPECT_EQ(*expand_env("TOKEN", fake_env), "TOKEN=abc");
  EXPECT_FALSE(expand_env("NOPE", fake_env));
  EXPECT_EQ(*expand_env("K=V", fake_env), "K=V");
  EXPECT_EQ(*expand_env("K=", fake_env), "K=");
  EXPECT_THROW(expand_env("=v", fake_env), Error);
  EXPECT_THROW(expand_env("", fake_env), Error);
}
