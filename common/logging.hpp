// Logging set-up for the executables (the libraries only call spdlog::debug/info/... and never
// configure anything). Text goes to stderr or --log FILE; json writes one object per line,
// {"level":"error","msg":"...","time":"RFC 3339"}, which is what podman/conmon and containerd
// read back from the runtime's log file on failure.
// Rule: never pass a secret value to a log call, at any level.
#pragma once
#include <string>

namespace kiln {

enum class LogFormat { text, json };

struct LogOptions {
  std::string file;  // empty: stderr
  LogFormat format = LogFormat::text;
  bool debug = false;
  bool quiet_stderr = false;  // when a file is given, do not also echo to stderr
};

void setup_logging(const LogOptions& options);

// The fd of the --log file (O_CLOEXEC), or -1: a cloned container init keeps it until execve.
int log_file_fd();

// Where the terminal's lines (warnings, --debug) go: stderr unless set (kiln's detached monitor
// keeps kiln's stderr for its --debug stage lines until it has reported). Returns the old fd.
int set_log_stderr_fd(int fd);

// Parses "text" / "json"; throws naming the value otherwise.
LogFormat parse_log_format(const std::string& value);

}  // namespace kiln
