#include "runtime/credentials.hpp"

#include <grp.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <string>

#include "common/error.hpp"

namespace kiln::runtime {
namespace {

struct CapState {
  cap_t caps;
  CapState() : caps(cap_init()) {
    if (!caps) throw_errno("cap_init");
  }
  ~CapState() { cap_free(caps); }
  CapState(const CapState&) = delete;
  CapState& operator=(const CapState&) = delete;
};

void set_flag(cap_t caps, cap_flag_t flag, const std::vector<int>& list) {
  for (int c : list) {
    cap_value_t v = c;
    if (cap_set_flag(caps, flag, 1, &v, CAP_SET) != 0) throw_errno("cap_set_flag");
  }
}

std::string capability_name(int c) {
  char* name = cap_to_name(static_cast<cap_value_t>(c));
  std::string out = name ? name : std::to_string(c);
  cap_free(name);
  for (auto& ch : out) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return out;
}

// A capability outside our own bounding set (a host that withholds it from every process, as a
// sandboxed VM may do with CAP_SYS_RESOURCE) cannot be raised: name it, instead of the bare
// EPERM cap_set_proc would give. The bounding set itself only loses what is not listed.
void check_capabilities_available(const Capabilities& want) {
  for (const auto& [set, list] : {std::pair{"effective", &want.effective}, std::pair{"permitted", &want.permitted},
                                  std::pair{"inheritable", &want.inheritable}})
    for (int c : *list)
      if (::prctl(PR_CAPBSET_READ, c, 0, 0, 0) != 1)
        throw Error(std::string("process.capabilities.") + set + ": " + capability_name(c) +
                        " is not in the runtime's own bounding set (the host withholds it)",
                    EPERM);
}

}  // namespace

void apply_rlimits(const std::vector<Rlimit>& rlimits) {
  for (const Rlimit& r : rlimits) {
    struct rlimit lim = {static_cast<rlim_t>(r.soft), static_cast<rlim_t>(r.hard)};
    if (::setrlimit(r.resource, &lim) != 0) {
      struct rlimit cur {};
      ::getrlimit(r.resource, &cur);
      throw_errno("set rlimit " + r.name + " to soft " + std::to_string(r.soft) + " hard " + std::to_string(r.hard) +
                  " (current hard limit " + std::to_string(cur.rlim_max) + ")");
    }
  }
}

void apply_user_and_capabilities(const Process& process, bool setgroups_allowed) {
  const Capabilities& want = process.capabilities;
  check_capabilities_available(want);
  // Bounding set first: it needs CAP_SETPCAP, which we still hold.
  for (int c = 0; c <= CAP_LAST_CAP; ++c) {
    if (std::find(want.bounding.begin(), want.bounding.end(), c) != want.bounding.end()) continue;
    if (::prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0 && errno != EINVAL)
      throw_errno("drop capability " + std::to_string(c) + " from the bounding set");
  }
  // Keep the permitted set across setuid(non-zero); the exact sets are applied right after.
  if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) throw_errno("prctl PR_SET_KEEPCAPS");
  const User& u = process.user;
  if (setgroups_allowed) {
    if (::setgroups(u.additional_gids.size(), u.additional_gids.data()) != 0) throw_errno("setgroups");
  }
  if (::setresgid(u.gid, u.gid, u.gid) != 0) throw_errno("setgid " + std::to_string(u.gid));
  if (::setresuid(u.uid, u.uid, u.uid) != 0) throw_errno("setuid " + std::to_string(u.uid));
  // setresuid/setresgid leave an id of -1 unchanged: trust nothing, check what we became.
  uid_t ru, eu, su;
  gid_t rg, eg, sg;
  if (::getresuid(&ru, &eu, &su) != 0 || ::getresgid(&rg, &eg, &sg) != 0) throw_errno("read our ids");
  if (ru != u.uid || eu != u.uid || su != u.uid || rg != u.gid || eg != u.gid || sg != u.gid)
    throw Error("switch to uid " + std::to_string(u.uid) + " gid " + std::to_string(u.gid) + ": the ids did not change",
                EPERM);
  if (::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) throw_errno("prctl PR_SET_KEEPCAPS");

  CapState state;
  set_flag(state.caps, CAP_EFFECTIVE, want.effective);
  set_flag(state.caps, CAP_PERMITTED, want.permitted);
  // CVE-2022-29162: the inheritable set is exactly what the spec lists, empty by default.
  set_flag(state.caps, CAP_INHERITABLE, want.inheritable);
  if (cap_set_proc(state.caps) != 0) throw_errno("set capabilities");
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
    throw_errno("clear ambient capabilities");
  for (int c : want.ambient) {
    // The kernel refuses ambient capabilities that are not permitted and inheritable; runc
    // ignores those too, so a spec listing them still runs.
    ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0);
  }
  if (u.umask) ::umask(*u.umask);
}

void apply_no_new_privileges(const Process& process) {
  if (process.no_new_privileges && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) throw_errno("set no_new_privs");
}

}  // namespace kiln::runtime
