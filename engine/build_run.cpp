#include "engine/build_run.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <deque>
#include <optional>

#include "common/clock.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "common/in_root.hpp"
#include "common/process.hpp"
#include "engine/container_spec.hpp"
#include "engine/etc_files.hpp"
#include "engine/monitor.hpp"
#include "engine/records.hpp"
#include "engine/secret_inject.hpp"
#include "image/user_lookup.hpp"
#include "runtime/lifecycle.hpp"
#include "runtime/state.hpp"

namespace kiln::engine {
namespace {

constexpr size_t kLastLines = 10;

uint64_t build_nofile_hard_limit() {
  struct rlimit rl;
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_max == RLIM_INFINITY) return 0;
  return rl.rlim_max;
}

// Sends fds 1 and 2 into a pipe while the container runs (its init inherits them), and hands
// each line to `output`. The reader is a forked process, not a thread: the runtime forks the
// container's init from this process, and a fork while another thread holds a lock (malloc's,
// stdio's) leaves the child deadlocked. At the end the reader sends back the last lines.
class OutputCapture {
 public:
  explicit OutputCapture(const std::function<void(std::string_view)>& output) {
    Pipe lines = make_pipe();
    Pipe back = make_pipe();
    std::fflush(nullptr);
    pid_t pid = ::fork();
    if (pid < 0) throw_errno("build: fork the output reader");
    if (pid == 0) {
      lines.write.reset();
      back.read.reset();
      reader_main(lines.read.get(), back.write.get(), output);
    }
    reader_ = Child(pid);
    back_ = std::move(back.read);
    saved_out_ = UniqueFd(::fcntl(1, F_DUPFD_CLOEXEC, 3));
    saved_err_ = UniqueFd(::fcntl(2, F_DUPFD_CLOEXEC, 3));
    if (!saved_out_ || !saved_err_) throw_errno("build: save stdout");
    ::dup2(lines.write.get(), 1);
    ::dup2(lines.write.get(), 2);
  }
  ~OutputCapture() { stop(); }

  // Restores stdout/stderr and collects the last lines once the reader has seen the end.
  void stop() {
    if (!reader_) return;
    std::fflush(nullptr);
    ::dup2(saved_out_.get(), 1);
    ::dup2(saved_err_.get(), 2);
    std::string tail = read_fd(back_.get());
    reader_.wait();
    size_t pos = 0;
    while (pos < tail.size()) {
      size_t nl = tail.find('\n', pos);
      if (nl == std::string::npos) nl = tail.size();
      last_.push_back(tail.substr(pos, nl - pos));
      pos = nl + 1;
    }
  }
  const std::vector<std::string>& last_lines() const { return last_; }

 private:
  [[noreturn]] static void reader_main(int in, int back, const std::function<void(std::string_view)>& output) {
    std::deque<std::string> last;
    auto line = [&](std::string l) {
      if (output) output(l);
      last.push_back(std::move(l));
      if (last.size() > kLastLines) last.pop_front();
    };
    std::string partial;
    char buf[4096];
    for (;;) {
      ssize_t n = ::read(in, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      partial.append(buf, static_cast<size_t>(n));
      size_t nl;
      while ((nl = partial.find('\n')) != std::string::npos) {
        line(partial.substr(0, nl));
        partial.erase(0, nl + 1);
      }
      if (partial.size() > 64 * 1024) {  // a line without end is shown in pieces
        line(partial);
        partial.clear();
      }
    }
    if (!partial.empty()) line(partial);
    std::string tail;
    for (const auto& l : last) tail += l + "\n";
    size_t off = 0;
    while (off < tail.size()) {
      ssize_t w = ::write(back, tail.data() + off, tail.size() - off);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) break;
      off += static_cast<size_t>(w);
    }
    std::fflush(nullptr);
    ::_exit(0);
  }

  Child reader_;
  UniqueFd back_, saved_out_, saved_err_;
  std::vector<std::string> last_;
};

// The step's container on a named network: a run record owned by this process (what `kiln ps`
// shows while the step runs, and what `kiln network rm` sees as in use), then the attachment.
// The end removes both, on every path out of the step; if kiln dies, the next command finds
// the record's owner gone and does the same (settle_orphaned -> remove_run_container).
class StepNetwork {
 public:
  StepNetwork(const RunRecords& records, const NetworkPlan& plan, const std::string& id,
              const std::vector<std::string>& args)
      : records_(records) {
    rec_.id = id;
    rec_.name = "kiln-build-" + id.substr(0, 12);
    rec_.image = "(kiln build step)";
    rec_.command = args;
    rec_.created = now_rfc3339();
    rec_.monitor_pid = ::getpid();
    rec_.monitor_start_time = runtime::process_start_time(rec_.monitor_pid);
    records_.create(rec_);
    try {
      attachment_ = attach_network(records_, rec_, plan, rec_.name);  // undoes itself on failure
      rec_.extra["NetworkSettings"] = network_settings_json(plan, attachment_);
      records_.save(rec_);
    } catch (...) {
      remove();
      throw;
    }
  }
  ~StepNetwork() { remove(); }
  StepNetwork(const StepNetwork&) = delete;
  StepNetwork& operator=(const StepNetwork&) = delete;
  const NetworkAttachment& attachment() const { return attachment_; }

 private:
  void remove() noexcept {
    try {
      remove_run_container(records_, rec_, true);  // detaches the network, drops the record
    } catch (const std::exception& e) {
      spdlog::warn("build step {}: cleanup: {}", rec_.name, e.what());
    }
  }
  const RunRecords& records_;
  RunRecord rec_;
  NetworkAttachment attachment_;
};

}  // namespace

BuildRunResult run_build_step(const BuildRunRequest& r) {
  SpecInputs in;
  in.id = RunRecords::new_id();
  in.rootfs = r.container_dir + "/merged";
  in.image.env = r.env;
  in.image.working_dir = r.workdir;
  in.flags.command = r.args;
  in.flags.host_network = r.host_network;
  in.flags.hostname = "kiln-build";
  in.nofile_hard_limit = build_nofile_hard_limit();
  {
    UniqueFd root = open_file(in.rootfs, O_PATH | O_DIRECTORY);
    // The working directory exists before the step runs (and so is part of its layer).
    with_context("WORKDIR " + r.workdir, [&] { mkdir_all_in_root(root.get(), r.workdir, 0755); });
    auto u = with_context("USER " + r.user, [&] { return image::resolve_user(root.get(), r.user); });
    in.user = {u.uid, u.gid, u.additional_gids};
  }
  RunRecords records(default_run_root());
  std::optional<StepNetwork> net;
  EtcNetwork etc;
  if (r.network) {
    net.emplace(records, *r.network, in.id, r.args);
    const NetworkAttachment& a = net->attachment();
    in.flags.netns_path = a.netns;
    etc = {a.ip, a.aliases, a.dns_servers, a.dns_search, a.etc_from};
  }
  write_container_etc_files(r.container_dir, in.flags.hostname, r.host_network, etc);
  in.etc_dir = r.container_dir;
  nlohmann::json spec = build_run_spec(in);

  for (const auto& m : r.cache_mounts)
    spec["mounts"].push_back(
        {{"destination", m.target}, {"type", "bind"}, {"source", m.host_dir}, {"options", {"rbind", "rw"}}});

  std::vector<SecretFile> files;
  PreparedSecrets prepared;
  for (const auto& s : r.secrets) {
    if (!s.file_name.empty()) files.push_back({s.file_name, s.value->view(), 0400, in.user.uid, in.user.gid});
    if (!s.env.empty()) {
      SecretBuffer entry;
      entry.append(s.env);
      entry.append("=");
      entry.append(s.value->view());
      prepared.env.push_back(std::move(entry));
    }
  }
  if (!files.empty()) prepared.mount = make_secret_tmpfs(files);
  apply_env_secrets(spec, prepared);

  runtime::CreateOptions o;
  o.root = records.runtime_root();
  o.id = in.id;
  o.bundle = r.container_dir;
  o.config = spec;
  if (prepared.mount) o.detached_mounts.push_back(prepared.mount->detached());
  wipe_process_env(spec);

  BuildRunResult result;
  OutputCapture capture(r.output);
  try {
    result.status = runtime::run_container(o, false);
  } catch (...) {
    wipe_process_env(*o.config);
    capture.stop();
    throw;
  }
  wipe_process_env(*o.config);
  capture.stop();
  result.last_lines = capture.last_lines();
  return result;
}

}  // namespace kiln::engine
