// .dockerignore rules, path cleaning and globs of `kiln build`.
#include <gtest/gtest.h>

#include "engine/build_ignore.hpp"

namespace kiln::engine {
namespace {

TEST(BuildIgnore, DockerRules) {
  auto r = IgnoreRules::parse(
      "# comment\n*.log\n/secret.env\nbuild/\n**/node_modules\n!keep.log\n\n  docs/*.md \n!docs/README.md\n");
  EXPECT_TRUE(r.excluded("a.log"));
  EXPECT_FALSE(r.excluded("keep.log"));   // the later `!` wins
  EXPECT_FALSE(r.excluded("sub/a.log"));  // * stays in one component
  EXPECT_TRUE(r.excluded("secret.env"));
  EXPECT_TRUE(r.excluded("build/x/y.o"));  // a parent matches
  EXPECT_TRUE(r.excluded("a/b/node_modules/m.js"));
  EXPECT_TRUE(r.excluded("node_modules"));  // ** matches no directory too
  EXPECT_TRUE(r.excluded("docs/x.md"));
  EXPECT_FALSE(r.excluded("docs/README.md"));
  EXPECT_FALSE(r.excluded("src/main.c"));
  EXPECT_TRUE(IgnoreRules::parse("").empty());
}

TEST(BuildIgnore, CleanPaths) {
  EXPECT_EQ(clean_relative("./a//b/../c/").str(), "a/c");
  EXPECT_EQ(clean_relative("/abs/x").str(), "abs/x");
  EXPECT_TRUE(clean_relative("../x").climbs_out);
  EXPECT_TRUE(clean_relative("a/../../x").climbs_out);
  EXPECT_FALSE(clean_relative("a/../x").climbs_out);
  EXPECT_EQ(clean_relative(".").str(), "");
}

TEST(BuildIgnore, GlobsAreBoundedOnHostilePatterns) {
  EXPECT_TRUE(glob_match({"*.txt"}, {"a.txt"}));
  EXPECT_FALSE(glob_match({"*.txt"}, {"d", "a.txt"}));
  EXPECT_TRUE(glob_match({"**", "*.txt"}, {"d", "e", "a.txt"}));
  EXPECT_TRUE(has_glob("a[bc]"));
  EXPECT_FALSE(has_glob("plain/name"));
  // Many `**` against a deep path: the budget ends it, no exponential walk.
  std::vector<std::string> pat(40, "**"), path(60, "d");
  pat.push_back("nomatch");
  EXPECT_FALSE(glob_match(pat, path));
}

}  // namespace
}  // namespace kiln::engine
