// The first pass over a Dockerfile: parser directives (`# escape=`, `# syntax=`), comments,
// line continuations and heredocs, turning physical lines into logical ones that each hold one
// instruction. What an instruction means is dockerfile_parser.hpp's business.
//
// The rules are docker's: directives only before the first instruction, comment or blank line;
// a comment line inside a continuation is dropped; a logical line ends at a line that does not
// end with the escape character; a RUN/COPY/ADD line that names `<<WORD` (or `<<-WORD`,
// `<<"WORD"`) takes the following physical lines up to one that is exactly WORD as that
// heredoc's body, in the order they are named.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace kiln::engine {

struct Heredoc {
  std::string name;         // the terminator word
  std::string body;         // lines between the instruction and the terminator, each ending in \n
  bool strip_tabs = false;  // <<-WORD: leading tabs were removed from each body line
  bool expand = true;       // false when the word was quoted: no variable expansion in the body
};

struct LogicalLine {
  int line = 0;      // 1-based number of its first physical line
  std::string text;  // continuations joined, the escape characters removed
  std::vector<Heredoc> heredocs;
};

struct DockerfileLines {
  char escape = '\\';
  std::vector<LogicalLine> lines;
};

// Limits that keep a hostile file from costing more than its size.
inline constexpr size_t kMaxDockerfileSize = 4u << 20;
inline constexpr size_t kMaxHeredocsPerLine = 16;

// Throws kiln::Error "FILE:LINE: what was expected" (file is only used in messages).
DockerfileLines lex_dockerfile(std::string_view text, const std::string& file);

// The heredoc words `<<WORD` a line names (outside quotes), in order; used by the lexer and by
// the parser to tell a heredoc argument from text.
struct HeredocMarker {
  size_t begin = 0, end = 0;  // the marker's span in the line
  std::string name;
  bool strip_tabs = false;
  bool expand = true;
};
std::vector<HeredocMarker> find_heredoc_markers(std::string_view line);

}  // namespace kiln::engine
