// Signal names and numbers, as `kill` accepts them ("TERM", "SIGTERM", "15").
#pragma once
#include <string>

namespace kiln {

// Throws "signal X: unknown" for a name or number that is not a signal.
int parse_signal(const std::string& text);
std::string signal_name(int sig);

// Exit status as a shell reports it: the code, or 128+N when killed by signal N.
int exit_status_from_wait(int wstatus);

}  // namespace kiln
