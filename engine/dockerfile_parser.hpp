// A Dockerfile as data: stages of instructions, each with its flags and its arguments in
// shell or exec (JSON) form, checked for what can be checked before a build starts (known
// instruction, known flags, argument counts, FROM first, stage names). Expansion of variables
// happens while building (the values are only known then): dockerfile_expand.hpp.
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/dockerfile_lexer.hpp"

namespace kiln::engine {

struct InstructionFlag {
  std::string name;  // without the leading "--"
  std::string value;
  bool has_value = false;  // "--link" alone
};

struct Instruction {
  int line = 0;
  std::string keyword;  // upper case: "RUN"
  std::string text;     // the logical line as written, continuations joined
  std::vector<InstructionFlag> flags;
  std::string args;  // after the flags, blanks trimmed
  bool exec_form = false;
  std::vector<std::string> exec_args;  // when exec_form
  std::vector<Heredoc> heredocs;

  // Values of flag `name`, in order (a flag may be repeated: --mount).
  std::vector<std::string> flag_values(std::string_view name) const;
  const InstructionFlag* flag(std::string_view name) const;
};

struct Stage {
  size_t index = 0;
  std::string name;                       // from FROM ... AS name (lower case), "" when unnamed
  Instruction from;                       // its FROM
  std::vector<Instruction> instructions;  // after FROM
};

struct Dockerfile {
  std::string file;  // for messages
  char escape = '\\';
  std::vector<Instruction> global_args;  // ARGs before the first FROM
  std::vector<Stage> stages;
};

// Throws kiln::Error "FILE:LINE: what was expected".
Dockerfile parse_dockerfile(std::string_view text, const std::string& file);

// "FILE:LINE: KEYWORD" for messages about one instruction.
std::string where(const Dockerfile& df, const Instruction& ins);

}  // namespace kiln::engine
