#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cli/args.hpp"

namespace {

// A program with the shape of kiln's and kiln-runtime's top level: a flag and an option.
struct Line {
  std::vector<std::string> words;
  std::vector<char*> argv;
  explicit Line(std::vector<std::string> w) : words(std::move(w)) {
    for (auto& s : words) argv.push_back(s.data());
    argv.push_back(nullptr);
  }
  int argc() const { return static_cast<int>(words.size()); }
};

std::string first_positional(std::vector<std::string> words) {
  bool debug = false;
  std::string root;
  kiln::cli::Program app{"test", "kiln"};
  app.add_flag("--debug", debug);
  app.add_option("--root", root);
  Line line(std::move(words));
  return app.first_positional(line.argc(), line.argv.data());
}

TEST(FirstPositional, IsTheCommandAfterAFlag) {
  EXPECT_EQ(first_positional({"kiln", "--debug", "run", "--rm", "busybox"}), "run");
  EXPECT_EQ(first_positional({"kiln", "--debug", "--root", "/r", "create", "x"}), "create");
}

TEST(FirstPositional, SkipsAnOptionsValue) {
  EXPECT_EQ(first_positional({"kiln", "--root", "run", "ps"}), "ps");
  EXPECT_EQ(first_positional({"kiln", "--root=/r", "run"}), "run");
}

TEST(FirstPositional, EmptyWithoutACommand) {
  EXPECT_EQ(first_positional({"kiln", "--debug"}), "");
  EXPECT_EQ(first_positional({"kiln", "--", "run"}), "run");
}

}  // namespace
