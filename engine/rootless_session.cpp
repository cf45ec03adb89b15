#include "engine/rootless_session.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "common/error.hpp"
#include "common/files.hpp"
#include "common/process.hpp"
#include "common/user_namespace.hpp"
#include "runtime/id_maps.hpp"
#include "runtime/state.hpp"

namespace kiln::engine {
namespace {

std::string user_name(uid_t uid) {
  struct passwd pw {};
  struct passwd* found = nullptr;
  std::vector<char> buf(16384);
  if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) == 0 && found) return found->pw_name;
  return std::to_string(uid);
}

std::string home_dir() {
  const char* h = std::getenv("HOME");
  if (h && *h == '/') return h;
  struct passwd pw {};
  struct passwd* found = nullptr;
  std::vector<char> buf(16384);
  if (::getpwuid_r(::getuid(), &pw, buf.data(), buf.size(), &found) == 0 && found) return found->pw_dir;
  throw Error("kiln: no home directory for uid " + std::to_string(::getuid()) + " (set HOME or XDG_DATA_HOME)");
}

void send_byte(int fd) {
  char c = 1;
  while (::write(fd, &c, 1) < 0 && errno == EINTR) {
  }
}
bool receive_byte(int fd) {
  char c;
  ssize_t n;
  while ((n = ::read(fd, &c, 1)) < 0 && errno == EINTR) {
  }
  return n == 1;
}

// The holder: enters a new user namespace, waits for its maps, makes its mount namespace (host
// mounts still propagate in; ours never out) and then only waits, ignoring signals, forever.
[[noreturn]] void be_holder(int to_parent, int from_parent) {
  if (::unshare(CLONE_NEWUSER) != 0) ::_exit(10);
  send_byte(to_parent);
  if (!receive_byte(from_parent)) ::_exit(11);
  if (::setresgid(0, 0, 0) != 0 || ::setresuid(0, 0, 0) != 0) ::_exit(12);
  if (::unshare(CLONE_NEWNS) != 0) ::_exit(13);
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0) ::_exit(14);
  send_byte(to_parent);
  ::setsid();
  ::prctl(PR_SET_NAME, "kiln-session", 0, 0, 0);
  int null = ::open("/dev/null", O_RDWR);
  for (int fd = 0; fd < 3; ++fd) ::dup2(null, fd);
  ::close_range(3, ~0U, 0);
  for (int s = 1; s < NSIG; ++s) ::signal(s, SIG_IGN);
  for (;;) ::pause();
}

std::vector<runtime::IdMapping> session_map(uint32_t own, const std::optional<IdRange>& range) {
  std::vector<runtime::IdMapping> m = {{0, own, 1}};
  if (range) m.push_back({1, range->start, range->count});
  return m;
}

pid_t make_holder(const SessionInfo& info) {
  Pipe up = make_pipe();
  Pipe down = make_pipe();
  pid_t pid = ::fork();
  if (pid < 0) throw_errno("kiln session: fork");
  if (pid == 0) be_holder(up.write.get(), down.read.get());
  Child holder(pid);
  up.write.reset();
  down.read.reset();
  if (!receive_byte(up.read.get()))
    throw Error("kiln session: cannot create a user namespace (user namespaces disabled?)");
  auto uids = session_map(::geteuid(), info.subuid);
  auto gids = session_map(::getegid(), info.subgid);
  runtime::write_id_maps(pid, uids, gids, runtime::choose_id_map_writer(uids, gids));
  send_byte(down.write.get());
  if (!receive_byte(up.read.get())) throw Error("kiln session: the session process could not set up its namespaces");
  return holder.release();
}

void join(pid_t holder) {
  UniqueFd cwd(::open(".", O_PATH | O_DIRECTORY | O_CLOEXEC));
  UniqueFd user = open_file("/proc/" + std::to_string(holder) + "/ns/user", O_RDONLY);
  UniqueFd mnt = open_file("/proc/" + std::to_string(holder) + "/ns/mnt", O_RDONLY);
  if (::setns(user.get(), CLONE_NEWUSER) != 0) throw_errno("kiln session: join its user namespace");
  if (::setns(mnt.get(), CLONE_NEWNS) != 0) throw_errno("kiln session: join its mount namespace");
  if (cwd && ::fchdir(cwd.get()) != 0) throw_errno("kiln session: return to the working directory");
}

}  // namespace

namespace {

struct SubIdEntry {
  std::string name;
  IdRange range;
};

// The well-formed "name:start:count" lines of /etc/subuid or /etc/subgid.
std::vector<SubIdEntry> subid_entries(const std::string& file) {
  std::vector<SubIdEntry> out;
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string name, start, count;
    if (!std::getline(ls, name, ':') || !std::getline(ls, start, ':') || !std::getline(ls, count)) continue;
    char* e1 = nullptr;
    char* e2 = nullptr;
    unsigned long s = std::strtoul(start.c_str(), &e1, 10);
    unsigned long c = std::strtoul(count.c_str(), &e2, 10);
    if (*e1 || *e2 || start.empty() || count.empty() || c == 0 || s > 0xffffffffUL || c > 0xffffffffUL - s) continue;
    out.push_back({name, IdRange{static_cast<uint32_t>(s), static_cast<uint32_t>(c)}});
  }
  return out;
}

std::string range_text(const IdRange& r) {
  return std::to_string(r.start) + "-" + std::to_string(uint64_t{r.start} + r.count - 1);
}

}  // namespace

std::optional<IdRange> subordinate_range(const std::string& file, const std::string& user, uid_t id) {
  for (const auto& e : subid_entries(file))
    if (e.name == user || e.name == std::to_string(id)) return e.range;
  return std::nullopt;
}

std::optional<std::string> overlapping_range(const std::string& file, const std::string& user, uid_t id,
                                             const IdRange& range) {
  const uint64_t begin = range.start, end = uint64_t{range.start} + range.count;
  for (const auto& e : subid_entries(file)) {
    if (e.name == user || e.name == std::to_string(id)) continue;
    const uint64_t b = e.range.start, en = uint64_t{e.range.start} + e.range.count;
    if (b < end && begin < en) return e.name + "'s " + range_text(e.range);
  }
  return std::nullopt;
}

std::string rootless_store_root() {
  const char* x = std::getenv("XDG_DATA_HOME");
  if (x && *x == '/') return std::string(x) + "/kiln";
  return home_dir() + "/.local/share/kiln";
}

std::string rootless_run_root() {
  const char* x = std::getenv("XDG_RUNTIME_DIR");
  if (x && *x == '/') return std::string(x) + "/kiln";
  return "/tmp/kiln-run-" + std::to_string(::getuid());
}

SessionInfo enter_rootless_session(const std::string& run_root) {
  SessionInfo info;
  if (!in_initial_user_namespace() || ::geteuid() == 0) return info;
  mkdir_p(run_root, 0700);
  const std::string lock_path = run_root + "/session.lock", pid_path = run_root + "/session.pid";
  UniqueFd lock = open_file(lock_path, O_RDWR | O_CREAT, 0600);
  while (::flock(lock.get(), LOCK_EX) != 0)
    if (errno != EINTR) throw_errno("lock " + lock_path);
  pid_t holder = 0;
  if (auto text = read_file_if_exists(pid_path)) {
    std::istringstream in(*text);
    long pid = 0;
    uint64_t start = 0;
    if (in >> pid >> start && runtime::process_alive(static_cast<pid_t>(pid), start)) holder = static_cast<pid_t>(pid);
  }
  const std::string name = user_name(::getuid());
  info.subuid = subordinate_range("/etc/subuid", name, ::getuid());
  info.subgid = subordinate_range("/etc/subgid", name, ::getuid());
  if (!info.subuid || !info.subgid) info.subuid.reset(), info.subgid.reset();
  if (!holder && info.subuid) {
    for (const auto& [file, range] : {std::pair{"/etc/subuid", *info.subuid}, std::pair{"/etc/subgid", *info.subgid}})
      if (auto other = overlapping_range(file, name, ::getuid(), range))
        throw Error(std::string(file) + ": the range " + range_text(range) + " of " + name + " overlaps " + *other +
                        ": containers of both users would share host ids; give each user a range of its own "
                        "(usermod --del-subuids/--add-subuids, --del-subgids/--add-subgids)",
                    EINVAL);
  }
  if (!holder) {
    holder = make_holder(info);
    info.created = true;
    write_file_atomic(pid_path, std::to_string(holder) + " " + std::to_string(runtime::process_start_time(holder)),
                      0600, Sync::in_memory);
    if (!info.subuid)
      info.warning = "no /etc/subuid and /etc/subgid range for " + name +
                     ": containers map only your own id (files of other owners in images are folded onto it)";
  }
  info.holder = holder;
  join(holder);
  return info;
}

}  // namespace kiln::engine
