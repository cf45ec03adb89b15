// `kiln run` container records: what `ps`, `logs`, `inspect`, `stop` and `rm` read. They live
// under the run root (/run/kiln, or $KILN_RUN_ROOT; gone at reboot, like the containers):
//
//   containers/<id>/record.json   this file's RunRecord (atomic writes; never env values)
//   containers/<id>/log           stdout+stderr of a detached container (written by its monitor)
//   names/<name> -> <id>          a symlink: symlink(2) is atomic, so names are unique
//   runtime/                      the runtime's state root (runtime/state.hpp) for these ids
//
// Ids are 64 hex characters from getrandom; the first 12 are the short form. A container is
// named by its id, a unique id prefix, or its name.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace kiln::engine {

struct RunRecord {
  std::string id;
  std::string name;
  std::string image;     // as given on the command line
  std::string image_id;  // "sha256:<hex>"
  std::string store;     // the image store it came from (for unpin)
  std::vector<std::string> command;
  std::vector<std::string> env_keys;  // keys only: values may be secrets
  std::string hostname;
  std::string container_dir;  // <store>/containers/<id>: upper/, work/, merged/
  std::string rootfs;         // the mounted rootfs
  bool read_only = false;
  bool auto_remove = false;
  bool detached = false;
  int timeout = 0;
  std::string created;  // RFC 3339
  std::string started;
  std::string finished;
  std::optional<int> exit_code;
  std::string exit_note;  // why exit_code is missing from a finished record
  bool timed_out = false;
  pid_t monitor_pid = 0;  // the detached monitor, or the foreground kiln
  uint64_t monitor_start_time = 0;
  nlohmann::json extra = nlohmann::json::object();  // other features' public facts (secret names, targets)
};

nlohmann::json record_to_json(const RunRecord& r);
RunRecord record_from_json(const nlohmann::json& j);

// created | running | exited (exit_code unset when it could not be known: exit_note says why)
// | unknown (the monitor died, and no command has settled the record yet).
struct RunStatus {
  std::string state;
  std::optional<int> exit_code;
  bool process_alive = false;
  std::string note;
};

class RunRecords {
 public:
  // Creates the layout under run_root if missing.
  explicit RunRecords(std::string run_root);
  const std::string& run_root() const { return root_; }
  std::string runtime_root() const { return root_ + "/runtime"; }
  std::string dir(const std::string& id) const { return root_ + "/containers/" + id; }
  std::string log_path(const std::string& id) const { return dir(id) + "/log"; }

  // A fresh 64-hex id.
  static std::string new_id();
  // mkdir the record dir and reserve the name (default: the short id); throws
  // "name NAME is already in use by container SHORT-ID". Nothing is left on failure.
  void create(RunRecord& record) const;
  void save(const RunRecord& record) const;
  RunRecord load(const std::string& id) const;
  std::vector<RunRecord> list() const;  // newest first
  // Full id, unique id prefix or name; throws "no such container: REF".
  std::string resolve(const std::string& ref) const;
  // Drops the name and the record dir (log included). Missing parts are fine.
  void remove(const RunRecord& record) const;

  RunStatus status(const RunRecord& record) const;

 private:
  std::string root_;
};

// $KILN_RUN_ROOT, or /run/kiln.
std::string default_run_root();
// Validates a container name: [a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 128 characters.
void validate_container_name(const std::string& name);

}  // namespace kiln::engine
