// kiln logs [-f] CONTAINER: what a detached container wrote to stdout and stderr.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <thread>

#include "cli/command_registry.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "engine/records.hpp"

namespace {

struct Opts {
  std::string container;
  bool follow = false;
};

// Copies what is new in fd to stdout; false at end of file.
bool pump(int fd) {
  char buf[65536];
  bool any = false;
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return any;
    kiln::write_all(1, std::string_view(buf, static_cast<size_t>(n)), "write logs to stdout");
    any = true;
  }
}

kiln::cli::RegisterCommand reg("logs", "Show a container's output", [](kiln::cli::Command& sub) -> kiln::cli::Action {
  auto o = std::make_shared<Opts>();
  sub.add_flag("-f,--follow", o->follow, "keep printing until the container exits");
  sub.add_option("CONTAINER", o->container, "name or id").required();
  return [o] {
    namespace rt = kiln::engine;
    rt::RunRecords records(rt::default_run_root());
    std::string id = records.resolve(o->container);
    rt::RunRecord r = records.load(id);
    auto path = records.log_path(id);
    if (!kiln::path_exists(path)) {
      if (!r.detached)
        throw kiln::Error("container " + r.name + " ran in the foreground: its output went to the terminal");
      return 0;
    }
    kiln::UniqueFd fd = kiln::open_file(path, O_RDONLY);
    pump(fd.get());
    while (o->follow) {
      bool running = true;
      try {
        running =
            records.status(records.load(id)).state == "running" || records.status(records.load(id)).state == "created";
      } catch (const kiln::Error&) {
        running = false;  // removed
      }
      if (!pump(fd.get()) && !running) {
        pump(fd.get());
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return 0;
  };
});

}  // namespace
