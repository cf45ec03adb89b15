#include "cgroups/cgroup_files.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <ctime>
#include <limits>
#include <memory>

#include "common/error.hpp"
#include "common/files.hpp"
#include "common/unique_fd.hpp"

namespace kiln::cgroups {

void write_cgroup_file(const std::string& path, std::string_view value) {
  // O_TRUNC matters only for the fake trees the tests use (plain files); cgroupfs ignores it.
  int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) throw_errno("write " + std::string(value) + " to " + path);
  UniqueFd owned(fd);
  for (;;) {
    ssize_t n = ::write(fd, value.data(), value.size());
    if (n >= 0) return;
    if (errno != EINTR) throw_errno("write " + std::string(value) + " to " + path);
  }
}

void write_setting(const std::string& dir, const std::string& file, std::string_view value, std::string_view setting) {
  with_context("set " + std::string(setting), [&] { write_cgroup_file(dir + "/" + file, value); });
}

void CgroupFileWriter::write(std::string_view value, std::string_view setting) {
  with_context("set " + std::string(setting), [&] {
    if (!fd_) {
      fd_.reset(::open(path_.c_str(), O_WRONLY | O_CLOEXEC));
      if (!fd_) throw_errno("write " + std::string(value) + " to " + path_);
    }
    for (;;) {
      if (::write(fd_.get(), value.data(), value.size()) >= 0) return;
      if (errno != EINTR) throw_errno("write " + std::string(value) + " to " + path_);
    }
  });
}

std::string read_cgroup_file(const std::string& path) { return read_file(path); }

std::optional<std::string> read_cgroup_file_if_exists(const std::string& path) { return read_file_if_exists(path); }

bool file_exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

std::vector<pid_t> read_cgroup_procs(const std::string& dir) {
  std::vector<pid_t> out;
  auto content = read_file_if_exists(dir + "/cgroup.procs");
  if (!content) return out;
  std::string_view rest = *content;
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    pid_t pid = 0;
    if (!line.empty() && std::from_chars(line.data(), line.data() + line.size(), pid).ec == std::errc())
      out.push_back(pid);
  }
  return out;
}

uint64_t parse_uint(std::string_view text, const std::string& path) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  if (text == "max") return std::numeric_limits<uint64_t>::max();
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size())
    throw Error("read " + path + ": not a number: \"" + std::string(text) + "\"");
  return v;
}

std::optional<uint64_t> read_uint_if_exists(const std::string& path) {
  auto content = read_file_if_exists(path);
  if (!content) return std::nullopt;
  return parse_uint(*content, path);
}

std::map<std::string, uint64_t> parse_flat_keyed(std::string_view content) {
  std::map<std::string, uint64_t> out;
  while (!content.empty()) {
    size_t nl = content.find('\n');
    std::string_view line = content.substr(0, nl);
    content = nl == std::string_view::npos ? std::string_view() : content.substr(nl + 1);
    size_t sp = line.find(' ');
    if (sp == std::string_view::npos) continue;
    std::string_view value = line.substr(sp + 1);
    uint64_t v = 0;
    if (value == "max") {
      v = std::numeric_limits<uint64_t>::max();
    } else if (std::from_chars(value.data(), value.data() + value.size(), v).ec != std::errc()) {
      continue;  // not a number (e.g. nested keys): skip, callers only look up numeric keys
    }
    out.emplace(std::string(line.substr(0, sp)), v);
  }
  return out;
}

std::map<std::string, uint64_t> read_flat_keyed_if_exists(const std::string& path) {
  auto content = read_file_if_exists(path);
  if (!content) return {};
  return parse_flat_keyed(*content);
}

std::vector<std::string> hugepage_sizes() {
  static const std::vector<std::string> sizes = [] {
    std::vector<std::string> out;
    std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir("/sys/kernel/mm/hugepages"), ::closedir);
    if (!d) return out;
    while (dirent* e = ::readdir(d.get())) {
      std::string_view name = e->d_name;  // "hugepages-2048kB"
      if (!name.starts_with("hugepages-") || !name.ends_with("kB")) continue;
      name = name.substr(10, name.size() - 12);
      uint64_t kb = 0;
      if (std::from_chars(name.data(), name.data() + name.size(), kb).ec != std::errc()) continue;
      if (kb % (1024 * 1024) == 0) out.push_back(std::to_string(kb / (1024 * 1024)) + "GB");
      else if (kb % 1024 == 0) out.push_back(std::to_string(kb / 1024) + "MB");
      else out.push_back(std::to_string(kb) + "KB");
    }
    return out;
  }();
  return sizes;
}

void sleep_us(long us) {
  timespec ts{us / 1000000, (us % 1000000) * 1000};
  while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

void remove_cgroup_tree(const std::string& dir) {
  if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return;  // the usual case: no child cgroups
  if (std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir); d) {
    while (dirent* e = ::readdir(d.get())) {
      std::string name = e->d_name;
      if (e->d_type == DT_DIR && name != "." && name != "..") remove_cgroup_tree(dir + "/" + name);
    }
  } else if (errno == ENOENT) {
    return;
  }
  int err = 0;
  wait_for(
      [&] {
        if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return err = 0, true;
        err = errno;
        return err != EBUSY;
      },
      5000);
  if (err != 0) throw_errno("remove cgroup " + dir, err);
}

uint64_t read_stat_or_zero(const std::string& path) {
  try {
    return read_uint_if_exists(path).value_or(0);
  } catch (const kiln::Error&) {
    return 0;
  }
}

std::string device_number(int64_t major, int64_t minor) { return std::to_string(major) + ":" + std::to_string(minor); }

}  // namespace kiln::cgroups
