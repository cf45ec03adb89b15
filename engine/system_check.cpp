#include "engine/system_check.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include "common/check_findings.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "engine/monitor.hpp"
#include "engine/records.hpp"
#include "engine/rootfs.hpp"
#include "image/image_store.hpp"
#include "image/store_check.hpp"
#include "runtime/lifecycle.hpp"
#include "runtime/state.hpp"

namespace kiln::engine {
namespace {

namespace cfs = std::filesystem;

// Mount points (field 5 of mountinfo, octal escapes undone) under prefix.
std::vector<std::string> mounts_under(const std::string& prefix) {
  std::vector<std::string> out;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string f[5];
    for (auto& x : f) ls >> x;
    std::string mp;
    for (size_t i = 0; i < f[4].size(); ++i) {
      if (f[4][i] == '\\' && i + 3 < f[4].size()) {
        mp += static_cast<char>(std::stoi(f[4].substr(i + 1, 3), nullptr, 8));
        i += 3;
      } else {
        mp += f[4][i];
      }
    }
    if (mp.rfind(prefix, 0) == 0) out.push_back(mp);
  }
  return out;
}

// Older than a few seconds: not something a live command is making right now.
bool settled_age(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 && ::time(nullptr) - st.st_mtime > 10;
}

}  // namespace

std::vector<Finding> system_check(const std::string& store_root, const std::string& run_root, bool repair) {
  FindingList found(repair);
  RunRecords records(run_root);
  image::Store store(store_root);

  // Records whose monitor died: what settle_orphaned would do.
  std::set<std::string> record_ids;
  for (auto& r : records.list()) {
    record_ids.insert(r.id);
    bool owner_gone = r.monitor_pid > 0 && r.monitor_pid != ::getpid() &&
                      !runtime::process_alive(r.monitor_pid, r.monitor_start_time);
    if (r.exit_code || !r.finished.empty() || !owner_gone || records.status(r).process_alive) continue;
    std::string what = "container " + r.id.substr(0, 12) + " (" + r.name + "): its " +
                       (r.started.empty() ? "kiln run died before it started" : "monitor died, end not recorded");
    found.note(what, [&] {
      RunRecord copy = r;
      settle_orphaned(records, copy);
    });
  }
  // Record dirs without a record (a create killed between mkdir and the first write).
  for (const auto& id : dir_entry_names(records.run_root() + "/containers")) {
    if (!is_sha256_hex(id) || record_ids.count(id)) continue;
    std::string d = records.dir(id);
    if (path_exists(d + "/record.json") || !settled_age(d)) continue;
    found.note("record dir " + id.substr(0, 12) + ": no record in it", [&] { remove_tree(d); });
  }
  // Names whose container is gone.
  for (const auto& n : dir_entry_names(records.run_root() + "/names")) {
    std::string link = records.run_root() + "/names/" + n;
    std::error_code ec;
    std::string target = cfs::read_symlink(link, ec).string();
    if (!ec && path_exists(records.dir(target) + "/record.json")) continue;
    if (!ec && path_exists(records.dir(target)) && !settled_age(records.dir(target))) continue;  // being made
    found.note("name " + n + ": its container is gone", [&] {
      if (::unlink(link.c_str()) != 0 && errno != ENOENT) throw_errno("remove name " + link);
    });
  }
  // The runtime's state of containers without a record.
  for (const auto& id : dir_entry_names(records.runtime_root())) {
    if (!is_sha256_hex(id) || record_ids.count(id)) continue;
    found.note("runtime state of container " + id.substr(0, 12) + ": no record",
               [&] { runtime::delete_container(records.runtime_root(), id, true); });
  }
  // Container dirs (upper, work, merged) in the store without a record, and mounts of them.
  std::set<std::string> runtime_ids;
  for (const auto& id : runtime::list_container_ids(records.runtime_root())) runtime_ids.insert(id);
  const std::string cdir = store_root + "/containers";
  for (const auto& mp : mounts_under(cdir + "/")) {
    std::string rest = mp.substr(cdir.size() + 1);
    std::string id = rest.substr(0, rest.find('/'));
    const bool rw = rest == id + "/rw";  // --storage-opt size: stays until rm
    if (!is_sha256_hex(id) || (rest != id + "/merged" && !rw)) continue;
    bool keep = false;
    if (record_ids.count(id)) {
      RunRecord r = records.load(id);
      keep = rw || r.finished.empty() || records.status(r).process_alive;
    }
    if (keep) continue;
    found.note("rootfs mount " + mp + ": its container has exited or is gone", [&] { unmount_rootfs(mp); });
  }
  for (const auto& id : dir_entry_names(cdir)) {
    if (id.rfind(".init.tmp-", 0) == 0) {
      found.note("init layer work dir " + id + ": left by an interrupted run", [&] { remove_tree(cdir + "/" + id); });
      continue;
    }
    if (!is_sha256_hex(id) || record_ids.count(id)) continue;
    if (!settled_age(cdir + "/" + id)) continue;  // a run being set up
    found.note("container dir " + id.substr(0, 12) + ": no record", [&] {
      unmount_rootfs(cdir + "/" + id + "/merged");
      unmount_rootfs(cdir + "/" + id + "/rw");
      remove_tree(cdir + "/" + id);
    });
  }
  // cgroups under kiln/ of this run root's containers that no runtime state names. (kiln/ is
  // shared by every run root and by kiln-runtime: an id this run root does not know may well
  // be another's.)
  for (const auto& id : runtime::default_parent_cgroup_ids()) {
    if (!is_sha256_hex(id) || runtime_ids.count(id) || !record_ids.count(id)) continue;
    found.note("cgroup kiln/" + id.substr(0, 12) + ": no container state names it",
               [&] { runtime::remove_stray_cgroups(id); });
  }
  // The image store, with pins of containers that are gone.
  for (auto& f : image::check_store(
           store, repair, [&](const std::string& id) { return path_exists(records.dir(id) + "/record.json"); }))
    found.add(std::move(f));
  return found.take();
}

}  // namespace kiln::engine
