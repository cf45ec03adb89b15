// kiln build [-t NAME:TAG]... [-f Dockerfile] [--build-arg K=V]... [--secret id=ID,src=FILE|env=VAR]...
//            [--target STAGE] [--no-cache] [--network none|host|NAME] [--progress auto|plain|tty] [-q]
//            CONTEXT
// Progress goes to stderr (BuildKit's plain form, or redrawn lines on a terminal); the image id
// to stdout. A failing RUN shows
// its last output lines and exits 1, as docker build does.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "cli/command_registry.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "engine/build.hpp"
#include "engine/status_text.hpp"

namespace {

// The layers of the image with their sizes, so a bloated step shows.
void print_layers(FILE* out, const kiln::engine::BuildOutcome& o) {
  uint64_t total = 0;
  std::fprintf(out, "%-8s %-10s %-7s %s\n", "LAYER", "SIZE", "", "STEP");
  for (size_t i = 0; i < o.layers.size(); ++i) {
    const auto& l = o.layers[i];
    total += l.size;
    std::string step = l.where.empty() ? "(base image)" : l.where.substr(0, l.where.rfind(':')) + ": " + l.text;
    if (step.size() > 70) step = step.substr(0, 67) + "...";
    for (auto& c : step)
      if (c == '\n') c = ' ';
    std::fprintf(out, "%-8zu %-10s %-7s %s\n", i, kiln::engine::human_size(l.size).c_str(), l.cached ? "CACHED" : "",
                 step.c_str());
  }
  std::fprintf(out, "%-8s %-10s\n", "total", kiln::engine::human_size(total).c_str());
}

// --progress tty: a step's line stays open while it runs and ends with CACHED or its time on
// the same line; a RUN's output goes under it. Plain: BuildKit's plain lines, one per event.
class StepLines {
 public:
  StepLines(FILE* out, bool tty) : out_(out), tty_(tty) {}

  void operator()(const kiln::engine::BuildProgress& p) {
    using Kind = kiln::engine::BuildProgress::Kind;
    if (!tty_) {
      std::fprintf(out_, "%s\n", p.plain.c_str());
    } else if (p.kind == Kind::step) {
      close();
      std::fprintf(out_, "\033[1m#%d\033[0m %s", p.step, p.detail.c_str());
      open_ = p.step;
      open_text_ = p.detail;
    } else if ((p.kind == Kind::cached || p.kind == Kind::done) && open_ == p.step) {
      std::fprintf(out_, "\r\033[K\033[1m#%d\033[0m %s  \033[36m%s\033[0m\n", p.step, open_text_.c_str(),
                   p.kind == Kind::cached ? "CACHED" : p.detail.c_str());
      open_ = 0;
    } else {
      close();
      std::fprintf(out_, "%s\n", p.kind == Kind::output ? ("   " + p.detail).c_str() : p.plain.c_str());
    }
    std::fflush(out_);
  }
  // Ends a step line left open (before the summary or an error line).
  void close() {
    if (open_ == 0) return;
    std::fputc('\n', out_);
    open_ = 0;
  }

 private:
  FILE* out_;
  bool tty_;
  int open_ = 0;  // the step whose line has no newline yet
  std::string open_text_;
};

struct BuildArgs {
  kiln::engine::BuildRequest req;
  bool quiet = false;
  std::string progress = "auto";
};

kiln::cli::RegisterCommand reg(
    "build", "Build an image from a Dockerfile", [](kiln::cli::Command& sub) -> kiln::cli::Action {
      auto a = std::make_shared<BuildArgs>();
      sub.add_option("-t,--tag", a->req.tags, "name the image NAME:TAG (repeatable)");
      sub.add_option("-f,--file", a->req.dockerfile, "the Dockerfile (default CONTEXT/Dockerfile)");
      sub.add_option("--build-arg", a->req.build_args, "K=V for an ARG (repeatable)");
      sub.add_option("--secret", a->req.secrets, "id=ID,src=FILE or id=ID,env=VAR for RUN --mount=type=secret");
      sub.add_option("--target", a->req.target, "build up to this stage");
      sub.add_flag("--no-cache", a->req.no_cache, "redo every step");
      sub.add_option(
          "--network", a->req.network,
          "RUN steps' network: none (default), host, or NAME (a kiln network; RUN steps reach its containers by name)");
      sub.add_flag("-q,--quiet", a->quiet, "print only the image id");
      sub.add_option("--progress", a->progress, "auto (tty on a terminal), plain or tty")
          .one_of({"auto", "plain", "tty"});
      sub.add_option("CONTEXT", a->req.context, "the build context directory").required();
      return [a] {
        auto& r = a->req;
        r.store_root = kiln::cli::globals().root;
        if (const char* sde = std::getenv("SOURCE_DATE_EPOCH"); sde && *sde) {
          char* end = nullptr;
          long long v = std::strtoll(sde, &end, 10);
          if (*end || v < 0)
            throw kiln::Error("SOURCE_DATE_EPOCH " + std::string(sde) + ": expected seconds since 1970");
          r.source_date_epoch = v;
        }
        // RUN steps' output is read through stdout/stderr; progress needs a stderr of its own.
        int fd = ::fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
        if (fd < 0) kiln::throw_errno("dup stderr");
        std::shared_ptr<FILE> out(::fdopen(fd, "w"), [](FILE* f) {
          if (f) std::fclose(f);
        });
        if (!out) kiln::throw_errno("fdopen stderr");
        bool quiet = a->quiet;
        const char* term = std::getenv("TERM");
        bool tty =
            a->progress == "tty" || (a->progress == "auto" && ::isatty(fd) && !(term && std::string(term) == "dumb"));
        auto lines = std::make_shared<StepLines>(out.get(), tty);
        if (!quiet) r.progress = [lines](const kiln::engine::BuildProgress& p) { (*lines)(p); };
        r.warning = [out, lines](const std::string& line) {
          lines->close();
          std::fprintf(out.get(), "kiln: warning: %s\n", line.c_str());
          std::fflush(out.get());
        };
        kiln::UniqueFd null = kiln::open_file("/dev/null", O_RDONLY);
        ::dup2(null.get(), STDIN_FILENO);
        try {
          kiln::engine::BuildOutcome o = [&] {
            try {
              return kiln::engine::build(r);
            } catch (...) {
              lines->close();  // the error line starts a line of its own
              throw;
            }
          }();
          lines->close();
          if (!quiet) print_layers(out.get(), o);
          for (const auto& f : o.findings)
            std::fprintf(out.get(), "kiln: warning: %s\n", kiln::engine::describe(f).c_str());
          if (!quiet)
            std::fprintf(out.get(), "#%zu writing image %s (%zu of %zu steps cached)\n", o.steps + 1,
                         o.id.str().c_str(), o.cached, o.steps);
          for (const auto& t : r.tags)
            if (!quiet) std::fprintf(out.get(), "#%zu naming to %s\n", o.steps + 1, t.c_str());
          std::fflush(out.get());
          std::printf("%s\n", o.id.str().c_str());
          return 0;
        } catch (const kiln::engine::RunStepFailed& e) {
          std::fprintf(out.get(), "------\n");
          for (const auto& l : e.last_lines()) std::fprintf(out.get(), " > %s\n", l.c_str());
          std::fprintf(out.get(), "------\nkiln: %s\n", e.what());
          std::fflush(out.get());
          return 1;
        }
      };
    });

}  // namespace
