// The --log file: one line per record, written with one write(2) each, UTC times marked Z.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "common/error.hpp"
#include "common/files.hpp"
#include "common/logging.hpp"

using namespace kiln;

namespace {

std::string temp_dir() {
  char tmpl[] = "/tmp/kiln-logging-XXXXXX";
  return ::mkdtemp(tmpl);
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

}  // namespace

TEST(Logging, TextFileHasUtcTimeLevelAndMessage) {
  std::string dir = temp_dir();
  setup_logging({dir + "/log", LogFormat::text, true, true});
  spdlog::debug("mount {} on {}", "proc", "/proc");
  spdlog::warn("cleanup: gone");
  auto lines = lines_of(read_file(dir + "/log"));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_TRUE(
      std::regex_match(lines[0], std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z debug mount proc on /proc)")))
      << lines[0];
  EXPECT_TRUE(lines[1].ends_with(" warning cleanup: gone")) << lines[1];
  // The fd is close-on-exec: a container's process never inherits it.
  int fd = log_file_fd();
  ASSERT_GE(fd, 3);
  EXPECT_TRUE(::fcntl(fd, F_GETFD) & FD_CLOEXEC);
  std::filesystem::remove_all(dir);
}

TEST(Logging, JsonFileHasOneObjectPerLineAndAppends) {
  std::string dir = temp_dir();
  write_file(dir + "/log.json", "{\"level\":\"info\",\"msg\":\"earlier\",\"time\":\"x\"}\n");
  setup_logging({dir + "/log.json", LogFormat::json, false, true});
  spdlog::debug("not at info level");
  spdlog::error("exec: \"nope\": no such file");
  auto lines = lines_of(read_file(dir + "/log.json"));
  ASSERT_EQ(lines.size(), 2u);
  auto j = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(j["level"], "error");
  EXPECT_EQ(j["msg"], "exec: \"nope\": no such file");
  EXPECT_TRUE(j["time"].get<std::string>().ends_with("Z"));
  std::filesystem::remove_all(dir);
}

TEST(Logging, UnknownFormatIsNamed) {
  try {
    parse_log_format("xml");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "log format xml: must be text or json");
  }
}
