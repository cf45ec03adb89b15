// Finds the program to execve inside the container (after pivot_root), using the PATH from
// the process's own env, and reports a missing program in the words clients match on
// ("no such file or directory", "executable file not found in $PATH").
#pragma once
#include <string>
#include <vector>

namespace kiln::runtime {

std::string resolve_executable(const std::string& arg0, const std::vector<std::string>& env);

}  // namespace kiln::runtime
