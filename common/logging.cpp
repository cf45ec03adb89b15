#include "common/logging.hpp"

#include <fcntl.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <nlohmann/json.hpp>

#include "common/clock.hpp"
#include "common/error.hpp"
#include "common/files.hpp"

namespace kiln {
namespace {

const char* level_word(spdlog::level::level_enum lvl) {
  switch (lvl) {
    case spdlog::level::trace: return "trace";
    case spdlog::level::debug: return "debug";
    case spdlog::level::info: return "info";
    case spdlog::level::warn: return "warning";
    case spdlog::level::err: return "error";
    case spdlog::level::critical: return "fatal";
    default: return "info";
  }
}

// Appends one line per record to an fd opened O_APPEND|O_CLOEXEC, with one write(2) each: no
// stdio buffer that a cloned child could hold a copy of, and containerd appends across calls.
// json: {"level","msg","time"} objects; text: "TIME LEVEL message".
class FdLineSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  FdLineSink(UniqueFd fd, LogFormat format) : fd_(std::move(fd)), format_(format) {}
  int fd() const { return fd_.get(); }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::string payload(msg.payload.begin(), msg.payload.end());
    std::string text;
    if (format_ == LogFormat::json) {
      nlohmann::json line = {{"level", level_word(msg.level)}, {"msg", payload}, {"time", rfc3339(msg.time)}};
      text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    } else {
      text = rfc3339(msg.time) + " " + level_word(msg.level) + " " + payload + "\n";
    }
    try {
      write_all(fd_.get(), text, "write log");
    } catch (const Error&) {
      // A log that cannot be written must not turn into a second failure.
    }
  }
  void flush_() override {}

 private:
  UniqueFd fd_;
  LogFormat format_;
};

std::atomic<int> g_stderr_fd{STDERR_FILENO};

// The terminal's view: warnings always (runc prints them too: a failing poststart hook must be
// seen), debug lines with --debug, errors never (the CLI prints the one-line error itself).
class StderrSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit StderrSink(bool debug) : debug_(debug) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    if (msg.level >= spdlog::level::err) return;
    if (msg.level != spdlog::level::warn && !debug_) return;
    std::string text = msg.level == spdlog::level::warn ? "warning: " : "";
    text.append(msg.payload.begin(), msg.payload.end());
    text += "\n";
    try {
      write_all(g_stderr_fd.load(), text, "write stderr");
    } catch (const Error&) {
    }
  }
  void flush_() override {}

 private:
  bool debug_;
};

int g_log_fd = -1;

}  // namespace

int log_file_fd() { return g_log_fd; }

int set_log_stderr_fd(int fd) { return g_stderr_fd.exchange(fd); }

LogFormat parse_log_format(const std::string& value) {
  if (value == "text") return LogFormat::text;
  if (value == "json") return LogFormat::json;
  throw Error("log format " + value + ": must be text or json");
}

void setup_logging(const LogOptions& options) {
  std::vector<spdlog::sink_ptr> sinks;
  if (!options.file.empty()) {
    auto sink =
        std::make_shared<FdLineSink>(open_file(options.file, O_WRONLY | O_CREAT | O_APPEND, 0644), options.format);
    g_log_fd = sink->fd();
    sinks.push_back(sink);
  }
  if (options.file.empty() || !options.quiet_stderr) {
    sinks.push_back(std::make_shared<StderrSink>(options.debug));
  }
  auto logger = std::make_shared<spdlog::logger>("kiln", sinks.begin(), sinks.end());
  logger->set_level(options.debug ? spdlog::level::debug : spdlog::level::info);
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
}

}  // namespace kiln
