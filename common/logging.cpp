#include "common/logging.hpp"

#include <fcntl.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

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

// Appends one JSON object per record to an fd opened O_APPEND (containerd appends across calls).
class JsonLineSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit JsonLineSink(UniqueFd fd) : fd_(std::move(fd)) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    nlohmann::json line = {{"level", level_word(msg.level)},
                           {"msg", std::string(msg.payload.begin(), msg.payload.end())},
                           {"time", rfc3339(msg.time)}};
    std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    try {
      write_all(fd_.get(), text, "write log");
    } catch (const Error&) {
      // A log that cannot be written must not turn into a second failure.
    }
  }
  void flush_() override {}

 private:
  UniqueFd fd_;
};

}  // namespace

LogFormat parse_log_format(const std::string& value) {
  if (value == "text") return LogFormat::text;
  if (value == "json") return LogFormat::json;
  throw Error("log format " + value + ": must be text or json");
}

void setup_logging(const LogOptions& options) {
  std::vector<spdlog::sink_ptr> sinks;
  if (!options.file.empty()) {
    UniqueFd fd = open_file(options.file, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (options.format == LogFormat::json) {
      sinks.push_back(std::make_shared<JsonLineSink>(std::move(fd)));
    } else {
      fd.reset();
      auto sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(options.file, false);
      sink->set_pattern("%Y-%m-%dT%H:%M:%S.%fZ %l %v");
      sinks.push_back(sink);
    }
  }
  if (options.file.empty() || !options.quiet_stderr) {
    auto err = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    err->set_pattern("%v");
    // stderr shows errors only; the CLI prints the one-line error itself.
    err->set_level(options.debug ? spdlog::level::debug : spdlog::level::off);
    sinks.push_back(err);
  }
  auto logger = std::make_shared<spdlog::logger>("kiln", sinks.begin(), sinks.end());
  logger->set_level(options.debug ? spdlog::level::debug : spdlog::level::info);
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
}

}  // namespace kiln
