// The Dockerfile lexer, parser and variable expansion, including hostile input.
#include <gtest/gtest.h>

#include <string>

#include "common/error.hpp"
#include "engine/dockerfile_expand.hpp"
#include "engine/dockerfile_lexer.hpp"
#include "engine/dockerfile_parser.hpp"

namespace kiln::engine {
namespace {

std::string error_of(const std::string& text) {
  try {
    parse_dockerfile(text, "Dockerfile");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(DockerfileLexer, ContinuationsCommentsAndDirectives) {
  auto l =
      lex_dockerfile("# syntax=docker/dockerfile:1\n# escape=`\n\nFROM a\nRUN echo `\n  # dropped\n  b `\n\n c\n", "D");
  EXPECT_EQ(l.escape, '`');
  ASSERT_EQ(l.lines.size(), 2u);
  EXPECT_EQ(l.lines[0].text, "FROM a");
  EXPECT_EQ(l.lines[1].line, 5);
  EXPECT_EQ(l.lines[1].text, "RUN echo   b  c");
}

TEST(DockerfileLexer, DirectivesOnlyAtTheTop) {
  auto l = lex_dockerfile("FROM a\n# escape=`\nRUN x \\\n y\n", "D");
  EXPECT_EQ(l.escape, '\\');
  ASSERT_EQ(l.lines.size(), 2u);
  EXPECT_EQ(l.lines[1].text, "RUN x  y");
  EXPECT_THROW(lex_dockerfile("# escape=x\nFROM a\n", "D"), Error);
  EXPECT_THROW(lex_dockerfile("# escape=`\n# escape=\\\nFROM a\n", "D"), Error);
}

TEST(DockerfileLexer, Heredocs) {
  auto l = lex_dockerfile(
      "FROM a\nRUN <<EOF bash -e\necho one\n  echo two\nEOF\nRUN <<-'X' cat <<Y\n\t\tliteral $A\n\tX\ny\nY\n", "D");
  ASSERT_EQ(l.lines.size(), 3u);
  ASSERT_EQ(l.lines[1].heredocs.size(), 1u);
  EXPECT_EQ(l.lines[1].heredocs[0].name, "EOF");
  EXPECT_EQ(l.lines[1].heredocs[0].body, "echo one\n  echo two\n");
  ASSERT_EQ(l.lines[2].heredocs.size(), 2u);
  EXPECT_EQ(l.lines[2].heredocs[0].body, "literal $A\n");
  EXPECT_TRUE(l.lines[2].heredocs[0].strip_tabs);
  EXPECT_FALSE(l.lines[2].heredocs[0].expand);
  EXPECT_EQ(l.lines[2].heredocs[1].body, "y\n");
  // Not heredocs: a here-string, quoted text, the exec form, ENV.
  EXPECT_TRUE(find_heredoc_markers("RUN cat <<<word").empty());
  EXPECT_TRUE(find_heredoc_markers("RUN echo '<<EOF'").empty());
  EXPECT_TRUE(find_heredoc_markers("[\"<<EOF\"]").empty());
  EXPECT_EQ(lex_dockerfile("FROM a\nENV A=<<EOF\n", "D").lines.size(), 2u);
}

TEST(DockerfileLexer, UnterminatedHeredocNamesTheLine) {
  std::string e = error_of("FROM a\n\nRUN <<EOF\necho\n");
  EXPECT_EQ(e, "Dockerfile:3: heredoc <<EOF is not terminated (expected a line \"EOF\")");
}

TEST(DockerfileLexer, HostileBytes) {
  EXPECT_EQ(error_of("FROM a\nRUN a\0b"), "");  // the literal stops at the NUL
  std::string nul("FROM a\n\nRUN a\0b\n", 15);
  EXPECT_EQ(error_of(nul), "Dockerfile:3: a NUL byte: a Dockerfile is text");
  EXPECT_THROW(lex_dockerfile(std::string(kMaxDockerfileSize + 1, '#'), "D"), Error);
  // Many continuations and many lines are linear, not a crash.
  std::string long_line = "FROM a\nRUN x";
  for (int i = 0; i < 20000; ++i) long_line += " \\\n y";
  EXPECT_EQ(parse_dockerfile(long_line, "D").stages[0].instructions.size(), 1u);
  std::string many = "FROM a\nRUN";
  for (int i = 0; i < 40; ++i) many += " <<E" + std::to_string(i);
  EXPECT_NE(error_of(many).find("more than 16 heredocs"), std::string::npos);
  // CRLF line ends, a byte order mark, a file with no final newline.
  auto df = parse_dockerfile(
      "\xEF\xBB\xBF"
      "FROM a AS b\r\nRUN x\r\nCMD y",
      "D");
  EXPECT_EQ(df.stages[0].name, "b");
  EXPECT_EQ(df.stages[0].instructions.size(), 2u);
}

TEST(DockerfileParser, StagesFlagsAndForms) {
  auto df = parse_dockerfile(
      "ARG BASE=busybox\nFROM $BASE AS Build\nRUN --mount=type=secret,id=tok --network=none make\n"
      "COPY --from=build --chown=1:2 a b /dst/\nCMD [\"/bin/app\", \"-x\"]\nENTRYPOINT [not json\nFROM scratch\n"
      "SHELL [\"/bin/sh\", \"-ec\"]\n",
      "D");
  ASSERT_EQ(df.global_args.size(), 1u);
  ASSERT_EQ(df.stages.size(), 2u);
  EXPECT_EQ(df.stages[0].name, "build");
  const auto& ins = df.stages[0].instructions;
  ASSERT_EQ(ins.size(), 4u);
  EXPECT_EQ(ins[0].flag_values("mount"), std::vector<std::string>{"type=secret,id=tok"});
  EXPECT_EQ(ins[0].args, "make");
  EXPECT_EQ(ins[1].flag("chown")->value, "1:2");
  EXPECT_EQ(ins[1].args, "a b /dst/");
  EXPECT_TRUE(ins[2].exec_form);
  EXPECT_EQ(ins[2].exec_args, (std::vector<std::string>{"/bin/app", "-x"}));
  EXPECT_FALSE(ins[3].exec_form);  // not JSON: the shell form, as docker does
  EXPECT_TRUE(df.stages[1].instructions[0].exec_form);
  EXPECT_EQ(where(df, ins[1]), "D:4: COPY");
}

TEST(DockerfileParser, ErrorsSayWhereAndWhatWasExpected) {
  EXPECT_EQ(error_of("FROM a\nFROBNICATE x\n"),
            "Dockerfile:2: unknown instruction FROBNICATE (expected FROM, RUN, COPY, ADD, ENV, ARG, ...)");
  EXPECT_EQ(error_of("RUN x\n"), "Dockerfile:1: RUN before the first FROM (expected FROM or ARG)");
  EXPECT_EQ(error_of("# only a comment\n"), "Dockerfile: no FROM instruction (expected FROM IMAGE first)");
  EXPECT_EQ(error_of("FROM a b\n"), "Dockerfile:1: FROM expects IMAGE [AS NAME]");
  EXPECT_EQ(error_of("FROM a IS b\n"), "Dockerfile:1: FROM expects IMAGE [AS NAME] (got \"IS\" where AS belongs)");
  EXPECT_EQ(error_of("FROM a AS 9x\n").substr(0, 40), "Dockerfile:1: FROM: stage name \"9x\" is n");
  EXPECT_EQ(error_of("FROM a AS x\nFROM b AS X\n"), "Dockerfile:2: FROM: stage name x is already used on line 1");
  EXPECT_EQ(error_of("FROM a\nCOPY onlyone\n"), "Dockerfile:2: COPY expects at least one source and a destination");
  EXPECT_EQ(error_of("FROM a\nCOPY --bogus=1 a b\n"),
            "Dockerfile:2: COPY: unknown flag --bogus (expected one of --from, --chown, --chmod, --link)");
  EXPECT_EQ(error_of("FROM a\nENV --x=1 A=b\n"), "Dockerfile:2: ENV: unknown flag --x (it takes no flags)");
  EXPECT_EQ(error_of("FROM a\nSHELL /bin/sh -c\n"),
            "Dockerfile:2: SHELL expects a JSON array: SHELL [\"executable\", \"parameters\"]");
  EXPECT_EQ(error_of("FROM a\nONBUILD RUN x\n"),
            "Dockerfile:2: ONBUILD is not supported: kiln build refuses triggers that run in other builds");
  EXPECT_EQ(error_of("FROM a\nRUN\n"), "Dockerfile:2: RUN expects a command");
  EXPECT_EQ(error_of("FROM a\nRUN []\n"), "Dockerfile:2: RUN expects a command (the JSON array is empty)");
  EXPECT_EQ(error_of("FROM a\nADD --checksum=sha256:0 x y\n"), "Dockerfile:2: ADD --checksum: kiln build adds no URLs");
  // An instruction name that is a huge word is shortened in the message.
  EXPECT_LT(error_of("FROM a\n" + std::string(5000, 'Z') + "\n").size(), 200u);
}

TEST(DockerfileExpand, Variables) {
  BuildVars v{{"A", "1"}, {"E", ""}, {"P", "/usr/bin"}};
  const std::string w = "D:1: ENV";
  EXPECT_EQ(expand_word("$A${A}x$NOPE-$", v, '\\', w), "11x-$");
  EXPECT_EQ(expand_word("${E:-d} ${E-d} ${A:+set} ${NOPE+set}|", v, '\\', w), "d  set |");
  EXPECT_EQ(expand_word("'$A' \"$A\" \\$A", v, '\\', w), "$A 1 $A");
  EXPECT_EQ(expand_word("${NOPE:-${A:-x}}", v, '\\', w), "1");
  EXPECT_EQ(expand_word("`$A", v, '`', w), "$A");
  EXPECT_EQ(expand_words("a \"b c\" ${P}/x 'd e'", v, '\\', w),
            (std::vector<std::string>{"a", "b c", "/usr/bin/x", "d e"}));
  EXPECT_THROW(expand_word("${A", v, '\\', w), Error);
  EXPECT_THROW(expand_word("\"open", v, '\\', w), Error);
  EXPECT_THROW(expand_word("${A%x}", v, '\\', w), Error);
  EXPECT_THROW(expand_word("${}", v, '\\', w), Error);
  try {
    expand_word("${NOPE:?must be set}", v, '\\', w);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "D:1: ENV: NOPE: must be set");
  }
  std::string deep;
  for (int i = 0; i < 100; ++i) deep += "${X:-";
  deep += std::string(100, '}');
  EXPECT_THROW(expand_word(deep, v, '\\', w), Error);
}

TEST(DockerfileExpand, KeyValues) {
  BuildVars v{{"A", "1"}};
  auto kv = expand_key_values("X=$A Y=\"a b\" Z=", v, '\\', "w", true, false);
  ASSERT_EQ(kv.size(), 3u);
  EXPECT_EQ(kv[1].value, "a b");
  EXPECT_EQ(kv[2].value, "");
  auto legacy = expand_key_values("NAME  value with  $A ", v, '\\', "w", true, false);
  ASSERT_EQ(legacy.size(), 1u);
  EXPECT_EQ(legacy[0].value, "value with  1");
  auto args = expand_key_values("V1 V2=x", v, '\\', "w", false, true);
  EXPECT_FALSE(args[0].has_value);
  EXPECT_TRUE(args[1].has_value);
  EXPECT_THROW(expand_key_values("=x", v, '\\', "w", true, false), Error);
  EXPECT_THROW(expand_key_values("A B", v, '\\', "w", false, false), Error);
}

}  // namespace
}  // namespace kiln::engine
