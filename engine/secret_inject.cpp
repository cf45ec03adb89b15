#include "engine/secret_inject.hpp"

#include <fcntl.h>
#include <linux/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

#include "common/detached_mount.hpp"
#include "common/error.hpp"
#include "common/files.hpp"

namespace kiln::engine {

SecretMount make_secret_tmpfs(const std::vector<SecretFile>& files) {
  // Room for every value (page-rounded) plus slack; at least 1 MiB.
  size_t need = 64 * 1024;
  for (const auto& f : files) need += (f.value.size() + 4095) / 4096 * 4096;
  size_t size = std::max<size_t>(need, 1024 * 1024);

  UniqueFd mnt = with_context("secrets tmpfs", [&] {
    return detached_mount(
        "tmpfs", {{"size", std::to_string(size)}, {"mode", "0755"}, {"nr_inodes", std::to_string(files.size() + 16)}},
        MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
  });

  for (const auto& f : files) {
    if (!valid_secret_name(f.name)) throw Error("secrets tmpfs: bad file name \"" + f.name + "\"");
    std::string what = "secrets tmpfs: write " + f.name;
    int fd = ::openat(mnt.get(), f.name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) throw_errno(what);
    UniqueFd file(fd);
    write_all(file.get(), f.value, what);
    // chown before chmod: chown clears set-id bits, and the final mode is what counts.
    if (::fchown(file.get(), f.uid, f.gid) != 0) throw_errno("secrets tmpfs: chown " + f.name);
    if (::fchmod(file.get(), f.mode) != 0) throw_errno("secrets tmpfs: chmod " + f.name);
  }

  // Read-only from now on, also for the container's root.
  struct mount_attr attr {};
  attr.attr_set = MOUNT_ATTR_RDONLY;
  if (::syscall(SYS_mount_setattr, mnt.get(), "", AT_EMPTY_PATH, &attr, sizeof attr) != 0)
    throw_errno("secrets tmpfs: make read-only");
  return SecretMount(std::move(mnt));
}

PreparedSecrets prepare_secrets(const SecretStore& store, const std::vector<SecretRequest>& requests,
                                SecretOwner owner) {
  // Every name first: an unknown secret must fail before anything is made.
  for (const auto& r : requests)
    if (!store.exists(r.name)) throw Error("secret " + r.name + " not found");

  PreparedSecrets out;
  std::vector<SecretBuffer> values;  // keep mount values alive until the tmpfs is written
  std::vector<SecretFile> files;
  values.reserve(requests.size());
  for (const auto& r : requests) {
    SecretBuffer value = store.read(r.name);
    if (r.type == SecretRequest::Type::env) {
      SecretBuffer entry;
      entry.append(r.target);
      entry.append("=");
      entry.append(value.view());
      out.env.push_back(std::move(entry));
    } else {
      values.push_back(std::move(value));
      files.push_back({r.target, values.back().view(), r.mode, r.uid.value_or(owner.uid), r.gid.value_or(owner.gid)});
    }
  }
  if (!files.empty()) out.mount = make_secret_tmpfs(files);
  return out;  // `values` wipe themselves here
}

void set_process_env(nlohmann::json& config, std::string_view entry) {
  size_t eq = entry.find('=');
  if (eq == std::string_view::npos || eq == 0) throw Error("environment entry without KEY=");
  std::string_view key = entry.substr(0, eq + 1);  // "KEY="
  auto& env = config["process"]["env"];
  if (!env.is_array()) env = nlohmann::json::array();
  for (auto& e : env) {
    if (!e.is_string()) continue;
    auto& s = e.get_ref<std::string&>();
    if (s.compare(0, key.size(), key) == 0) {
      wipe(s.data(), s.size());
      s.assign(entry);
      return;
    }
  }
  env.push_back(std::string(entry));
}

void apply_env_secrets(nlohmann::json& config, const PreparedSecrets& prepared) {
  for (const auto& e : prepared.env) set_process_env(config, e.view());
  if (prepared.env.empty()) return;
  // A core dump holds the process's environment: with a secret in it, no core file (it would
  // land in the container's upper dir, on disk) unless the user set a core limit themselves.
  auto& rlimits = config["process"]["rlimits"];
  if (!rlimits.is_array()) rlimits = nlohmann::json::array();
  for (const auto& r : rlimits)
    if (r.is_object() && r.value("type", "") == "RLIMIT_CORE") return;
  rlimits.push_back({{"type", "RLIMIT_CORE"}, {"hard", 0}, {"soft", 0}});
}

void wipe_process_env(nlohmann::json& config) noexcept {
  auto p = config.find("process");
  if (p == config.end() || !p->is_object()) return;
  auto env = p->find("env");
  if (env == p->end() || !env->is_array()) return;
  for (auto& e : *env)
    if (e.is_string()) {
      auto& s = e.get_ref<std::string&>();
      wipe(s.data(), s.size());
    }
}

}  // namespace kiln::engine
