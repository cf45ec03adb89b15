// Hooks: parsing, and running real hook processes (stdin state, args/env, failures, timeouts,
// fd hygiene, and running as PID 1 of a new pid namespace as createContainer hooks do).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "common/error.hpp"
#include "common/files.hpp"
#include "runtime/hooks.hpp"

namespace kiln::runtime {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/kiln-hooks-test-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { remove_tree(path); }
};

Hook sh(const std::string& script, std::vector<std::string> env = {}, std::optional<int> timeout = {}) {
  return Hook{"/bin/sh", {"sh", "-c", script}, std::move(env), timeout};
}

std::string run_error(const Hook& hook, std::string_view label, const std::string& state = "{}") {
  try {
    run_hook(hook, state, label);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

std::string parse_error(const json& j) {
  try {
    parse_hooks(j);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(HookParse, AllPhases) {
  json j = {{"prestart", {{{"path", "/bin/a"}}}},
            {"createRuntime", {{{"path", "/bin/b"}, {"args", {"b", "-x"}}, {"env", {"K=V"}}, {"timeout", 5}}}},
            {"createContainer", json::array()},
            {"startContainer", {{{"path", "/bin/c"}}}},
            {"poststart", nullptr},
            {"poststop", {{{"path", "/bin/d"}}, {{"path", "/bin/e"}}}}};
  Hooks h = parse_hooks(j);
  ASSERT_EQ(h.prestart.size(), 1u);
  ASSERT_EQ(h.createRuntime.size(), 1u);
  EXPECT_EQ(h.createRuntime[0].args, (std::vector<std::string>{"b", "-x"}));
  EXPECT_EQ(h.createRuntime[0].env, (std::vector<std::string>{"K=V"}));
  EXPECT_EQ(h.createRuntime[0].timeout, 5);
  EXPECT_FALSE(h.prestart[0].timeout);
  EXPECT_TRUE(h.createContainer.empty());
  EXPECT_EQ(h.startContainer.size(), 1u);
  EXPECT_TRUE(h.poststart.empty());
  EXPECT_EQ(h.poststop[1].path, "/bin/e");
  EXPECT_TRUE(parse_hooks(nullptr).prestart.empty());
}

TEST(HookParse, ToJsonRoundTrips) {
  nlohmann::json in = nlohmann::json::parse(R"({
    "prestart": [{"path": "/bin/a", "args": ["a", "1"], "env": ["K=V"], "timeout": 3}],
    "poststop": [{"path": "/bin/b"}, {"path": "/bin/c", "args": ["c"]}]})");
  Hooks h = parse_hooks(in);
  nlohmann::json out = hooks_to_json(h);
  EXPECT_EQ(out, in);
  Hooks again = parse_hooks(out);
  ASSERT_EQ(again.poststop.size(), 2u);
  EXPECT_EQ(again.prestart[0].timeout, 3);
  EXPECT_EQ(again.prestart[0].env, std::vector<std::string>{"K=V"});
  EXPECT_TRUE(hooks_to_json(Hooks{}).empty());
}

TEST(HookParse, ErrorsNameTheField) {
  EXPECT_EQ(parse_error({{"poststop", {{{"path", "/x"}}, {{"path", "rel/hook"}}}}}),
            "hooks.poststop[1].path: must be absolute, got \"rel/hook\"");
  EXPECT_EQ(parse_error({{"prestart", {{{"args", {"a"}}}}}}), "hooks.prestart[0].path: missing or not a string");
  EXPECT_EQ(parse_error({{"poststart", {{{"path", "/x"}, {"timeout", 0}}}}}),
            "hooks.poststart[0].timeout: must be greater than zero, got 0");
  EXPECT_EQ(parse_error({{"poststart", {{{"path", "/x"}, {"timeout", "5"}}}}}),
            "hooks.poststart[0].timeout: must be an integer");
  EXPECT_EQ(parse_error({{"createRuntime", {{{"path", "/x"}, {"args", {"x", 3}}}}}}),
            "hooks.createRuntime[0].args[1]: must be a string");
  // The bad entry's text is not echoed: env values may be secrets.
  EXPECT_EQ(parse_error({{"createRuntime", {{{"path", "/x"}, {"env", {"A=1", "TOKEN"}}}}}}),
            "hooks.createRuntime[0].env[1]: must be KEY=VALUE");
  EXPECT_EQ(parse_error({{"prestart", {{"path", "/x"}}}}), "hooks.prestart: must be an array");
}

TEST(HookRun, StateOnStdinArgsAndEnv) {
  TempDir dir;
  std::string state = R"({"ociVersion":"1.0.2","id":"c1","status":"creating","pid":7,"bundle":"/b"})";
  ::setenv("KILN_HOOK_TEST_SENTINEL", "from-runtime", 1);
  Hook hook{"/bin/sh",
            {"my-hook", "-c", "cat > \"$OUT/state\"; cat /proc/$$/cmdline > \"$OUT/args\"; env > \"$OUT/env\"", "zero",
             "one"},
            {"OUT=" + dir.path, "A=1"},
            {}};
  run_hook(hook, state, "prestart[0]");
  EXPECT_EQ(read_file(dir.path + "/state"), state);
  std::string argv = read_file(dir.path + "/args");  // NUL-separated, argv[0] as given
  EXPECT_EQ(argv.substr(0, 11), std::string("my-hook\0-c\0", 11));
  EXPECT_EQ(argv.substr(argv.size() - 9), std::string("zero\0one\0", 9));
  std::string env = read_file(dir.path + "/env");
  EXPECT_NE(env.find("A=1\n"), std::string::npos);
  EXPECT_EQ(env.find("KILN_HOOK_TEST_SENTINEL"), std::string::npos);  // exactly the given env
}

TEST(HookRun, EmptyEnvInheritsAndEmptyArgsUsesPath) {
  TempDir dir;
  ::setenv("KILN_HOOK_TEST_SENTINEL", "from-runtime", 1);
  ::setenv("KILN_HOOK_TEST_OUT", dir.path.c_str(), 1);
  std::string script = dir.path + "/hook.sh";
  write_file(script, "#!/bin/sh\necho \"$0\" > \"$KILN_HOOK_TEST_OUT/argv0\"\nenv > \"$KILN_HOOK_TEST_OUT/env\"\n",
             0755);
  run_hook(Hook{script, {}, {}, {}}, "{}", "poststop[0]");
  EXPECT_EQ(read_file(dir.path + "/argv0"), script + "\n");
  EXPECT_NE(read_file(dir.path + "/env").find("KILN_HOOK_TEST_SENTINEL=from-runtime"), std::string::npos);
}

TEST(HookRun, NonZeroExitStopsTheSequence) {
  TempDir dir;
  std::vector<Hook> hooks{sh("touch " + dir.path + "/first"), sh("echo first line >&2; echo second line >&2; exit 3"),
                          sh("touch " + dir.path + "/third")};
  try {
    run_hooks(hooks, "{}", "createRuntime");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "hook createRuntime[1] /bin/sh: exited with status 3: first line");
  }
  EXPECT_TRUE(path_exists(dir.path + "/first"));
  EXPECT_FALSE(path_exists(dir.path + "/third"));
}

TEST(HookRun, KilledBySignal) {
  EXPECT_EQ(run_error(sh("kill -SEGV $$"), "poststart[0]"), "hook poststart[0] /bin/sh: killed by signal SIGSEGV");
}

TEST(HookRun, StdoutUsedWhenStderrIsEmpty) {
  EXPECT_EQ(run_error(sh("echo only stdout; exit 1"), "prestart[2]"),
            "hook prestart[2] /bin/sh: exited with status 1: only stdout");
}

TEST(HookRun, TimeoutKillsTheHookAndItsChildren) {
  TempDir dir;
  // The shell starts a background sleep too: both are in the hook's process group.
  Hook hook = sh("sleep 100 & echo $! > " + dir.path + "/bg; exec sleep 100", {}, 1);
  auto start = Clock::now();
  EXPECT_EQ(run_error(hook, "poststart[0]"), "hook poststart[0] /bin/sh: timed out after 1s");
  auto took = Clock::now() - start;
  EXPECT_GE(took, std::chrono::milliseconds(900));
  EXPECT_LT(took, std::chrono::seconds(3));
  pid_t bg = std::stoi(read_file(dir.path + "/bg"));
  // Dead: reaped already, or a zombie waiting for init (which reaps on its own schedule).
  bool dead = false;
  for (int i = 0; i < 100 && !dead; ++i) {
    auto stat = read_file_if_exists("/proc/" + std::to_string(bg) + "/stat");
    dead = !stat || stat->find(") Z ") != std::string::npos;
    if (!dead) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(dead);
}

TEST(HookRun, MissingPath) {
  EXPECT_EQ(run_error(Hook{"/nonexistent/hook", {}, {}, {}}, "prestart[0]"),
            "hook prestart[0] /nonexistent/hook: exec: No such file or directory");
}

TEST(HookRun, BackgroundChildHoldingOutputDoesNotBlock) {
  auto start = Clock::now();
  run_hook(sh("sleep 3 & exit 0"), "{}", "poststart[0]");
  EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(2500));
}

TEST(HookRun, LargeStateAndOutputDoNotDeadlock) {
  std::string state(300 * 1024, 'x');  // bigger than a default pipe; the hook never reads it
  run_hook(sh("head -c 1048576 /dev/zero; head -c 1048576 /dev/zero >&2; exit 0"), state, "prestart[0]");
  // And a hook that does read all of it.
  TempDir dir;
  run_hook(sh("wc -c > " + dir.path + "/n"), state, "prestart[1]");
  EXPECT_EQ(std::stoul(read_file(dir.path + "/n")), state.size());
}

TEST(HookRun, OnlyStdioReachesTheHook) {
  TempDir dir;
  int leaked = ::open("/dev/null", O_RDONLY);  // no O_CLOEXEC on purpose: must still not leak
  ASSERT_GE(leaked, 0);
  run_hook(sh("exec ls /proc/self/fd > " + dir.path + "/fds"), "{}", "prestart[0]");
  ::close(leaked);
  EXPECT_EQ(read_file(dir.path + "/fds"), "0\n1\n2\n3\n");  // 3: ls's own directory handle
}

TEST(HookRun, WorksAsPid1OfNewPidNamespace) {
  TempDir dir;
  pid_t outer = ::fork();
  if (outer == 0) {
    if (::unshare(CLONE_NEWPID) != 0) ::_exit(77);
    pid_t init = ::fork();
    if (init == 0) {
      if (::getpid() != 1) ::_exit(2);
      try {
        run_hook(sh("echo $PPID > " + dir.path + "/ppid"), "{}", "createContainer[0]");
        std::string err = run_error(sh("exit 4"), "createContainer[1]");
        ::_exit(err == "hook createContainer[1] /bin/sh: exited with status 4" ? 0 : 3);
      } catch (...) {
        ::_exit(4);
      }
    }
    int status = 0;
    ::waitpid(init, &status, 0);
    ::_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 5);
  }
  int status = 0;
  ::waitpid(outer, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 77) GTEST_SKIP() << "no permission to unshare a pid namespace";
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(read_file(dir.path + "/ppid"), "1\n");
}

}  // namespace
}  // namespace kiln::runtime
