#include "runtime/process_setup.hpp"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include "common/error.hpp"
#include "common/unique_fd.hpp"
#include "runtime/credentials.hpp"
#include "runtime/exec_path.hpp"
#include "runtime/home_env.hpp"
#include "runtime/seccomp_load.hpp"
#include "common/stage_clock.hpp"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

namespace kiln::runtime {
namespace {

std::vector<char*> c_strings(const std::vector<std::string>& v) {
  std::vector<char*> out;
  for (const auto& s : v) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

// A cwd outside our root shows as "(unreachable)/..." (glibc: ENOENT): refuse it (CVE-2024-21626).
void verify_cwd(const std::string& cwd) {
  char buf[PATH_MAX];
  const char* got = ::getcwd(buf, sizeof buf);
  if (got && buf[0] == '/') return;
  if (got || errno == ENOENT) throw Error("process.cwd " + cwd + ": resolves outside the container");
  throw_errno("check process.cwd " + cwd);
}

// chdir into process.cwd while still root, as runc does: a user whose cwd only root may enter
// (an image's WorkingDir /root, 0700, and --user 65534) still starts there. It is also done
// before a seccomp filter is loaded (the filter may deny getcwd). False: root may not enter it
// (a root-squashing mount): try again as the user.
bool enter_cwd_as_runtime(const std::string& cwd) {
  if (::chdir(cwd.c_str()) != 0) {
    if (errno == EACCES) return false;
    throw_errno("chdir to process.cwd " + cwd);
  }
  verify_cwd(cwd);
  return true;
}

void enter_cwd_as_user(const std::string& cwd) {
  if (::chdir(cwd.c_str()) != 0) throw_errno("chdir to process.cwd " + cwd);
  verify_cwd(cwd);
}

}  // namespace

void install_seccomp(const SeccompProgram* program, const SyncChannel& channel) {
  if (!program) return;
  int rc = load_seccomp(*program);
  if (rc < 0) throw_errno("load seccomp filter", -rc);
  if (program->needs_listener) {
    UniqueFd listener(rc);
    channel.send_fd(SyncType::seccomp_listener, listener.get());
  }
}

void setup_terminal(const Process& process, const SyncChannel& channel) {
  UniqueFd master(::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!master) throw_errno("open /dev/ptmx");
  if (::unlockpt(master.get()) != 0) throw_errno("unlock pty");
  // TIOCGPTPEER opens the slave through the master: no path lookup that could be raced.
  UniqueFd slave(::ioctl(master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY));
  if (!slave) throw_errno("open pty slave");
  if (process.console_height || process.console_width) {
    struct winsize ws {};
    ws.ws_row = static_cast<unsigned short>(process.console_height);
    ws.ws_col = static_cast<unsigned short>(process.console_width);
    ::ioctl(master.get(), TIOCSWINSZ, &ws);
  }
  if (::setsid() < 0 && errno != EPERM) throw_errno("setsid");
  if (::ioctl(slave.get(), TIOCSCTTY, 0) != 0) throw_errno("make the pty the controlling terminal");
  for (int fd = 0; fd < 3; ++fd)
    if (::dup2(slave.get(), fd) < 0) throw_errno("dup pty slave");
  if (slave.get() <= 2) slave.release();  // it is one of stdio now
  channel.send_fd(SyncType::pty_master, master.get());
}

PreparedExec prepare_process(const Process& proc, const SeccompProgram* seccomp, const SyncChannel& channel,
                             bool setgroups_allowed, int preserve_fds, ChildStageStamps* stamps) {
  auto stamp = [stamps](std::string_view name) {
    if (stamps) stamps->stamp(name);
  };
  apply_rlimits(proc.rlimits);
  // Read as the runtime, before the identity switch: the user may not be allowed to read it.
  std::vector<std::string> env = proc.env;
  add_home_if_unset(env, proc.user.uid);
  const bool in_cwd = enter_cwd_as_runtime(proc.cwd);
  // A realtime policy or class needs CAP_SYS_NICE / CAP_SYS_ADMIN: before the identity switch.
  if (proc.scheduler) apply_scheduler(*proc.scheduler);
  if (proc.io_priority) apply_io_priority(*proc.io_priority);
  // Without no_new_privs the kernel wants CAP_SYS_ADMIN to load a filter: load it now.
  if (!proc.no_new_privileges && seccomp) {
    stamp("init:seccomp");
    install_seccomp(seccomp, channel);
  }
  stamp("init:user and capabilities");
  apply_user_and_capabilities(proc, setgroups_allowed);
  apply_no_new_privileges(proc);
  if (!in_cwd) enter_cwd_as_user(proc.cwd);
  PreparedExec out{resolve_executable(proc.args[0], proc.env), proc.args, std::move(env)};
  if (proc.no_new_privileges && seccomp) {
    stamp("init:seccomp");
    install_seccomp(seccomp, channel);
  }
  // Everything we still hold (channel, fifo) closes itself at execve.
  ::syscall(SYS_close_range, 3u + static_cast<unsigned>(preserve_fds), ~0U, CLOSE_RANGE_CLOEXEC);
  return out;
}

void exec_prepared(const PreparedExec& exec) {
  std::vector<char*> argv = c_strings(exec.args);
  std::vector<char*> envp = c_strings(exec.env);
  ::execve(exec.path.c_str(), argv.data(), envp.data());
  throw_errno("exec: \"" + exec.path + "\"", errno, ErrorKind::exec);
}

}  // namespace kiln::runtime
