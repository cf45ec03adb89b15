#include "common/files.hpp"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <random>

#include "common/error.hpp"

namespace kiln {

UniqueFd open_file(const std::string& path, int flags, mode_t mode) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) throw_errno("open " + path);
  return UniqueFd(fd);
}

std::string read_fd(int fd) {
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("read");
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

std::string read_file(const std::string& path) {
  UniqueFd fd = open_file(path, O_RDONLY);
  return with_context("read " + path, [&] { return read_fd(fd.get()); });
}

std::optional<std::string> read_file_if_exists(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    throw_errno("open " + path);
  }
  UniqueFd owned(fd);
  return with_context("read " + path, [&] { return read_fd(owned.get()); });
}

void write_all(int fd, std::string_view data, std::string_view what) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno(what);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}

void write_file(const std::string& path, std::string_view data, mode_t mode) {
  UniqueFd fd = open_file(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
  write_all(fd.get(), data, "write " + path);
}

void write_file_atomic(const std::string& path, std::string_view data, mode_t mode, Sync sync) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string tmp = path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(rng());
  {
    UniqueFd fd = open_file(tmp, O_WRONLY | O_CREAT | O_EXCL, mode);
    try {
      write_all(fd.get(), data, "write " + tmp);
      if (::fchmod(fd.get(), mode) != 0) throw_errno("chmod " + tmp);
      if (sync == Sync::durable && ::fsync(fd.get()) != 0) throw_errno("fsync " + tmp);
    } catch (...) {
      ::unlink(tmp.c_str());
      throw;
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw_errno("rename " + tmp + " to " + path, err);
  }
  if (sync == Sync::durable) {
    auto slash = path.rfind('/');
    sync_dir(slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash));
  }
}

std::optional<pid_t> atomic_temp_writer(std::string_view file_name) {
  auto at = file_name.rfind(".tmp-");
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view rest = file_name.substr(at + 5);
  auto dash = rest.find('-');
  if (dash == 0 || dash == std::string_view::npos) return std::nullopt;
  pid_t pid = 0;
  for (char c : rest.substr(0, dash)) {
    if (c < '0' || c > '9' || pid > 100000000) return std::nullopt;
    pid = pid * 10 + (c - '0');
  }
  return pid > 0 ? std::optional<pid_t>(pid) : std::nullopt;
}

void remove_dead_writers_temp_files(const std::string& dir) {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    auto pid = atomic_temp_writer(e.path().filename().native());
    if (pid && ::kill(*pid, 0) != 0 && errno == ESRCH) ::unlink(e.path().c_str());
  }
}

void sync_dir(const std::string& dir) {
  UniqueFd fd = open_file(dir, O_RDONLY | O_DIRECTORY);
  if (::fsync(fd.get()) != 0) throw_errno("fsync " + dir);
}

void mkdir_p(const std::string& path, mode_t mode) {
  std::error_code ec;
  bool created = std::filesystem::create_directories(path, ec);
  if (ec) throw Error("create directory " + path + ": " + ec.message(), ec.value());
  if (created && ::chmod(path.c_str(), mode) != 0) throw_errno("chmod " + path);
}

void remove_tree(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec && ec.value() != ENOENT) throw Error("remove " + path + ": " + ec.message(), ec.value());
}

bool path_exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

}  // namespace kiln

namespace kiln {

std::string resolved_path(const std::string& path) {
  char* real = ::realpath(path.c_str(), nullptr);
  if (!real) throw_errno("resolve " + path);
  std::string out(real);
  ::free(real);
  return out;
}

}  // namespace kiln
