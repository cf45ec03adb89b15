// OCI hooks: parsing the "hooks" object and running one hook with the container state on stdin.
//
// Where the launcher runs each phase (runtime-spec "Lifecycle"):
//   prestart, createRuntime  - runtime namespace, during create, after the container's
//                              namespaces exist and before pivot_root;
//   createContainer          - in the container child (its namespaces), before pivot_root;
//   startContainer           - in the container child, after pivot_root, right before execve;
//   poststart                - runtime namespace, after the user process started (a failure is
//                              logged, the container keeps running);
//   poststop                 - runtime namespace, during delete (failures logged, delete goes on).
// run_hook only forks, waits for its own child by pid and never relies on SIGCHLD, so it also
// works from a container child that is PID 1 of a new pid namespace.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::runtime {

struct Hook {
  std::string path;               // absolute; executed as is (no PATH search)
  std::vector<std::string> args;  // argv, args[0] included; empty: { path }
  std::vector<std::string> env;   // "K=V"; empty: the runtime's own environment (as runc does)
  std::optional<int> timeout;     // seconds, > 0; none: wait forever
};

struct Hooks {
  std::vector<Hook> prestart, createRuntime, createContainer, startContainer, poststart, poststop;
};

// field names the hook in errors ("hooks.prestart[0]").
Hook parse_hook(const nlohmann::json& hook, std::string_view field);
// hooks_obj is the spec's "hooks" object (null or missing phases are empty).
Hooks parse_hooks(const nlohmann::json& hooks_obj);
// The spec's form again (empty phases left out): parse_hooks(hooks_to_json(h)) == h.
nlohmann::json hooks_to_json(const Hooks& hooks);

// Runs one hook: state_json on its stdin, stdout/stderr captured (bounded) for the error.
// label names it in errors: "hook poststart[0] /path: timed out after 2s",
// "hook createRuntime[1] /path: exited with status 3: <first line of stderr>".
// On timeout the hook's process group is killed with SIGKILL and reaped.
void run_hook(const Hook& hook, const std::string& state_json, std::string_view label);

// Runs hooks in order with labels "<phase>[i]", stopping at (throwing) the first failure.
void run_hooks(const std::vector<Hook>& hooks, const std::string& state_json, std::string_view phase);

}  // namespace kiln::runtime
