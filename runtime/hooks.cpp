#include "runtime/hooks.hpp"

#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstring>

#include "common/process.hpp"
#include "common/error.hpp"
#include "common/json_fields.hpp"
#include "common/signals.hpp"
#include "common/unique_fd.hpp"

extern char** environ;

namespace kiln::runtime {

using json = nlohmann::json;
namespace {

constexpr std::size_t kCaptureLimit = 4096;  // per stream: enough for an error line

[[noreturn]] void fail(std::string_view field, const std::string& reason) {
  throw Error(std::string(field) + ": " + reason);
}

Pipe make_pipe(const std::string& what) {
  return with_context(what, [] { return kiln::make_pipe(); });
}

// Everything the forked child needs, prepared before fork so the child only makes
// async-signal-safe calls (the caller may be multi-threaded).
struct ChildSetup {
  std::vector<char*> argv, envp;
  int in = -1, out = -1, err = -1, exec_err = -1;
};

[[noreturn]] void child_exec(const char* path, const ChildSetup& s) {
  // Its own process group, so a timeout kills whatever the hook started as well.
  ::setpgid(0, 0);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig)
    if (sig != SIGKILL && sig != SIGSTOP) ::sigaction(sig, &dfl, nullptr);  // ignored ones survive exec
  // Move every fd above 2 first: pipe ends may themselves be 0..2 if the caller closed stdio.
  int report = ::fcntl(s.exec_err, F_DUPFD_CLOEXEC, 3);
  int in = ::fcntl(s.in, F_DUPFD_CLOEXEC, 3);
  int out = ::fcntl(s.out, F_DUPFD_CLOEXEC, 3);
  int err = ::fcntl(s.err, F_DUPFD_CLOEXEC, 3);
  int e = 0;
  if (report < 0 || in < 0 || out < 0 || err < 0 || ::dup2(in, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0) {
    e = errno;
  } else if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
    // Older kernels: mark them one by one (the descriptors above 3 close at execve).
    long max = ::sysconf(_SC_OPEN_MAX);
    for (int fd = 3; fd < (max > 0 && max < 65536 ? max : 65536); ++fd) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  if (e == 0) {
    ::execve(path, s.argv.data(), s.envp.data());
    e = errno;
  }
  if (report >= 0) [[maybe_unused]]
    auto n = ::write(report, &e, sizeof e);
  ::_exit(127);
}

std::string first_line(const std::string& text) {
  std::size_t start = text.find_first_not_of(" \t\r\n");
  if (start == std::string::npos) return {};
  std::size_t end = text.find_first_of("\r\n", start);
  std::string line = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
  if (line.size() > 200) line = line.substr(0, 200) + "...";
  return line;
}

// Reads what is available; false at EOF (or error).
bool drain(int fd, std::string& into) {
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      std::size_t room = kCaptureLimit - std::min(kCaptureLimit, into.size());
      into.append(buf, std::min(room, static_cast<std::size_t>(n)));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return true;
    return false;
  }
}

void set_nonblock(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

}  // namespace

Hook parse_hook(const json& hook, std::string_view field_view) {
  std::string field(field_view);
  if (!hook.is_object()) fail(field, "must be an object");
  Hook h;
  auto path = hook.find("path");
  if (path == hook.end() || !path->is_string()) fail(field + ".path", "missing or not a string");
  h.path = path->get<std::string>();
  if (h.path.empty() || h.path.front() != '/') fail(field + ".path", "must be absolute, got \"" + h.path + "\"");
  h.args = json_fields::string_list(hook, "args", field);
  h.env = json_fields::string_list(hook, "env", field);
  for (std::size_t i = 0; i < h.env.size(); ++i)  // don't echo the entry: its value may be a secret
    if (h.env[i].find('=') == std::string::npos || h.env[i].front() == '=')
      fail(field + ".env[" + std::to_string(i) + "]", "must be KEY=VALUE");
  if (auto t = json_fields::opt_int(hook, "timeout", field)) {
    if (*t <= 0 || *t > 1'000'000'000) fail(field + ".timeout", "must be greater than zero, got " + std::to_string(*t));
    h.timeout = static_cast<int>(*t);
  }
  return h;
}

namespace {
// The spec's phases, in its order.
constexpr std::array<std::pair<const char*, std::vector<Hook> Hooks::*>, 6> kPhases{{
    {"prestart", &Hooks::prestart},
    {"createRuntime", &Hooks::createRuntime},
    {"createContainer", &Hooks::createContainer},
    {"startContainer", &Hooks::startContainer},
    {"poststart", &Hooks::poststart},
    {"poststop", &Hooks::poststop},
}};
}  // namespace

Hooks parse_hooks(const json& hooks_obj) {
  Hooks hooks;
  if (hooks_obj.is_null()) return hooks;
  if (!hooks_obj.is_object()) fail("hooks", "must be an object");
  for (const auto& [name, member] : kPhases) {
    auto it = hooks_obj.find(name);
    if (it == hooks_obj.end() || it->is_null()) continue;
    std::string field = std::string("hooks.") + name;
    if (!it->is_array()) fail(field, "must be an array");
    for (std::size_t i = 0; i < it->size(); ++i)
      (hooks.*member).push_back(parse_hook((*it)[i], field + "[" + std::to_string(i) + "]"));
  }
  return hooks;
}

nlohmann::json hooks_to_json(const Hooks& hooks) {
  json out = json::object();
  for (const auto& [name, member] : kPhases) {
    const std::vector<Hook>& list = hooks.*member;
    if (list.empty()) continue;
    json& arr = out[name] = json::array();
    for (const Hook& h : list) {
      json j = {{"path", h.path}};
      if (!h.args.empty()) j["args"] = h.args;
      if (!h.env.empty()) j["env"] = h.env;
      if (h.timeout) j["timeout"] = *h.timeout;
      arr.push_back(std::move(j));
    }
  }
  return out;
}

namespace {

// The state goes into the stdin pipe before the hook exists: no blocking on a hook that never
// reads, and no SIGPIPE for us if it exits without reading. Returns the read end.
UniqueFd stdin_with_state(const std::string& state_json, const std::string& what) {
  Pipe in = make_pipe(what);
  if (state_json.size() > 65536 && ::fcntl(in.write.get(), F_SETPIPE_SZ, static_cast<int>(state_json.size())) < 0)
    throw_errno(what + ": state of " + std::to_string(state_json.size()) + " bytes does not fit a pipe");
  set_nonblock(in.write.get());
  ssize_t n = ::write(in.write.get(), state_json.data(), state_json.size());
  if (n < 0 || static_cast<std::size_t>(n) != state_json.size()) throw_errno(what + ": write state to stdin pipe");
  return std::move(in.read);  // the write end closes here: EOF after the state
}

struct HookOutput {
  int status = 0;
  std::string out, err;
};

// Waits for the hook while collecting its output (bounded); kills its process group at the
// deadline. pidfd tells us when the hook itself exits even if something it started keeps the
// output pipes open; without it (old kernels) poll on a short tick and ask waitpid.
HookOutput wait_capturing(Child& child, UniqueFd out, UniqueFd err,
                          std::optional<std::chrono::steady_clock::time_point> deadline, const std::string& what,
                          int timeout_s) {
  const pid_t pid = child.pid();
  UniqueFd pidfd = try_open_pidfd(pid);
  set_nonblock(out.get());
  set_nonblock(err.get());
  HookOutput r;
  bool out_open = true, err_open = true;
  for (;;) {
    pid_t w = ::waitpid(pid, &r.status, WNOHANG);
    if (w == pid) {
      child.release();  // reaped
      break;
    }
    if (w < 0 && errno != EINTR) throw_errno(what + ": waitpid");
    int wait_ms = pidfd ? -1 : 20;
    if (deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        ::kill(-pid, SIGKILL);
        child.kill_and_reap();
        throw Error(what + ": timed out after " + std::to_string(timeout_s) + "s");
      }
      int left_ms = static_cast<int>(std::min<long long>(left.count() + 1, 1 << 30));
      wait_ms = wait_ms < 0 ? left_ms : std::min(wait_ms, left_ms);
    }
    pollfd fds[3];
    nfds_t n = 0;
    if (out_open) fds[n++] = {out.get(), POLLIN, 0};
    if (err_open) fds[n++] = {err.get(), POLLIN, 0};
    if (pidfd) fds[n++] = {pidfd.get(), POLLIN, 0};
    if (::poll(fds, n, wait_ms) < 0 && errno != EINTR) throw_errno(what + ": poll");
    if (out_open) out_open = drain(out.get(), r.out);
    if (err_open) err_open = drain(err.get(), r.err);
  }
  // Whatever the hook wrote before exiting is in the pipes now.
  if (out_open) drain(out.get(), r.out);
  if (err_open) drain(err.get(), r.err);
  return r;
}

std::string failure_reason(const HookOutput& r) {
  std::string reason = WIFSIGNALED(r.status) ? "killed by signal " + signal_name(WTERMSIG(r.status))
                                             : "exited with status " + std::to_string(WEXITSTATUS(r.status));
  std::string detail = first_line(r.err);
  if (detail.empty()) detail = first_line(r.out);
  if (!detail.empty()) reason += ": " + detail;
  return reason;
}

}  // namespace

void run_hook(const Hook& hook, const std::string& state_json, std::string_view label) {
  const std::string what = "hook " + std::string(label) + " " + hook.path;
  spdlog::debug("{}: running ({} args, {} env entries, timeout {})", what, hook.args.size(), hook.env.size(),
                hook.timeout ? std::to_string(*hook.timeout) + "s" : "none");
  UniqueFd in = stdin_with_state(state_json, what);
  Pipe out = make_pipe(what), err = make_pipe(what), exec_err = make_pipe(what);

  std::vector<std::string> args = hook.args.empty() ? std::vector<std::string>{hook.path} : hook.args;
  std::vector<std::string> env = hook.env;
  ChildSetup setup;
  for (auto& a : args) setup.argv.push_back(a.data());
  setup.argv.push_back(nullptr);
  if (env.empty()) {
    for (char** e = environ; e && *e; ++e) setup.envp.push_back(*e);
  } else {
    for (auto& e : env) setup.envp.push_back(e.data());
  }
  setup.envp.push_back(nullptr);
  setup.in = in.get();
  setup.out = out.write.get();
  setup.err = err.write.get();
  setup.exec_err = exec_err.write.get();

  auto start = std::chrono::steady_clock::now();
  pid_t pid = ::fork();
  if (pid < 0) throw_errno(what + ": fork");
  if (pid == 0) child_exec(hook.path.c_str(), setup);
  // Killed and reaped on any way out of here but a normal exit (whose status we read).
  Child child(pid);
  in.reset();
  out.write.reset();
  err.write.reset();
  exec_err.write.reset();

  // execve closes the report pipe (close-on-exec): EOF means the hook is running.
  int exec_errno = 0;
  ssize_t got;
  do {
    got = ::read(exec_err.read.get(), &exec_errno, sizeof exec_errno);
  } while (got < 0 && errno == EINTR);
  if (got == sizeof exec_errno) {
    child.wait();
    throw_errno(what + ": exec", exec_errno);
  }

  std::optional<std::chrono::steady_clock::time_point> deadline;
  if (hook.timeout) deadline = start + std::chrono::seconds(*hook.timeout);
  HookOutput r =
      wait_capturing(child, std::move(out.read), std::move(err.read), deadline, what, hook.timeout.value_or(0));
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  if (WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0) {
    spdlog::debug("{}: succeeded in {} ms", what, ms);
    return;
  }
  throw Error(what + ": " + failure_reason(r));
}

void run_hooks(const std::vector<Hook>& hooks, const std::string& state_json, std::string_view phase) {
  for (std::size_t i = 0; i < hooks.size(); ++i)
    run_hook(hooks[i], state_json, std::string(phase) + "[" + std::to_string(i) + "]");
}

}  // namespace kiln::runtime
