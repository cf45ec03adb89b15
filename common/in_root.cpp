#include "common/in_root.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <vector>

#include "common/error.hpp"

namespace kiln {
namespace {

bool g_openat2_missing = false;

int sys_openat2(int dirfd, const char* path, int flags, mode_t mode, unsigned long long resolve) {
  struct open_how how {};
  how.flags = static_cast<unsigned long long>(flags);
  how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
  how.resolve = resolve;
  return static_cast<int>(::syscall(SYS_openat2, dirfd, path, &how, sizeof how));
}

std::string join_components(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) {
    out += '/';
    out += p;
  }
  return out.empty() ? "/" : out;
}

// Fallback resolver (no openat2): one fd per resolved component, each opened O_PATH|O_NOFOLLOW
// from the one before and checked with fstat, so no component is ever looked up by a path
// string a rename could redirect. Symlinks are read from their own fd and expanded by hand,
// absolute ones and ".." clamped at the root (a ".." pops back to the parent's fd). Returns
// the final component opened with `flags`, or -errno.
UniqueFd walk_in_root(int root_fd, std::string_view path, int flags, mode_t mode, Symlinks symlinks) {
  std::vector<UniqueFd> stack;  // fds below the root, one per component
  auto cur = [&] { return stack.empty() ? root_fd : stack.back().get(); };
  std::vector<std::string> parts = path_components(path);
  std::vector<std::string> todo(parts.rbegin(), parts.rend());  // pop from the back
  int links = 0;
  while (!todo.empty()) {
    std::string comp = std::move(todo.back());
    todo.pop_back();
    if (comp == "..") {
      if (!stack.empty()) stack.pop_back();
      continue;
    }
    const bool last = todo.empty();
    int final_err = 0;
    if (last) {
      // The final component with the caller's flags, never following a symlink by itself.
      int fd = ::openat(cur(), comp.c_str(), flags | O_CLOEXEC | O_NOFOLLOW, mode);
      if (fd >= 0) return UniqueFd(fd);
      final_err = errno;
      if (errno != ELOOP && !(errno == ENOTDIR && (flags & O_DIRECTORY))) return UniqueFd(-errno);
      // ELOOP (or ENOTDIR with O_DIRECTORY): it may be a symlink to follow inside the root.
    }
    UniqueFd next(::openat(cur(), comp.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!next) return UniqueFd(-errno);
    struct stat st;
    if (::fstat(next.get(), &st) != 0) return UniqueFd(-errno);
    if (S_ISLNK(st.st_mode)) {
      if (last && (flags & O_NOFOLLOW)) return UniqueFd(-ELOOP);
      if (symlinks == Symlinks::refuse || ++links > 40) return UniqueFd(-ELOOP);
      char target[PATH_MAX];
      ssize_t n = ::readlinkat(next.get(), "", target, sizeof target - 1);
      if (n < 0) return UniqueFd(-errno);
      target[n] = 0;
      if (target[0] == '/') stack.clear();
      std::vector<std::string> tparts = path_components(target);
      for (auto it = tparts.rbegin(); it != tparts.rend(); ++it) todo.push_back(*it);
      continue;
    }
    if (last) return UniqueFd(-final_err);
    if (!S_ISDIR(st.st_mode)) return UniqueFd(-ENOTDIR);
    stack.push_back(std::move(next));
  }
  // The path named the root itself (or climbed back to it).
  int fd = ::openat(cur(), ".", flags | O_CLOEXEC, mode);
  return fd >= 0 ? UniqueFd(fd) : UniqueFd(-errno);
}

}  // namespace

std::vector<std::string> path_components(std::string_view path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    std::string_view c = path.substr(i, j - i);
    if (!c.empty() && c != ".") out.emplace_back(c);
    i = j + 1;
  }
  return out;
}

int try_open_in_root(int root_fd, std::string_view path, int flags, mode_t mode, Symlinks symlinks, UniqueFd& out) {
  size_t first = path.find_first_not_of('/');
  std::string rel = first == std::string_view::npos ? std::string(".") : std::string(path.substr(first));
  if (!g_openat2_missing) {
    unsigned long long resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    if (symlinks == Symlinks::refuse) resolve |= RESOLVE_NO_SYMLINKS;
    int fd;
    // With RESOLVE_IN_ROOT the kernel answers EAGAIN when a rename or mount raced the lookup.
    for (int tries = 0; (fd = sys_openat2(root_fd, rel.c_str(), flags | O_CLOEXEC, mode, resolve)) < 0 &&
                        errno == EAGAIN && tries < 64;
         ++tries) {
    }
    if (fd >= 0) {
      out = UniqueFd(fd);
      return 0;
    }
    if (errno != ENOSYS) return errno;
    g_openat2_missing = true;
  }
  UniqueFd fd = walk_in_root(root_fd, path, flags, mode, symlinks);
  if (fd.get() < 0) return -fd.release();
  out = std::move(fd);
  return 0;
}

void throw_in_root_error(int root_fd, std::string_view path, Symlinks symlinks, int err) {
  if (err == ELOOP && symlinks == Symlinks::refuse)
    throw Error("open " + std::string(path) + " in root " + fd_path(root_fd) + ": reached through a symlink, refused",
                ELOOP);
  throw_errno("open " + std::string(path) + " in root " + fd_path(root_fd), err);
}

UniqueFd open_in_root(int root_fd, std::string_view path, int flags, mode_t mode, Symlinks symlinks) {
  UniqueFd fd;
  int err = try_open_in_root(root_fd, path, flags, mode, symlinks, fd);
  if (err != 0) throw_in_root_error(root_fd, path, symlinks, err);
  return fd;
}

UniqueFd mkdir_all_in_root(int root_fd, std::string_view path, mode_t mode, Symlinks symlinks) {
  // Mount points usually exist already: one in-root open is cheaper than a walk. A missing one
  // is normal here, so it is not an exception (a start makes a dozen of these).
  {
    UniqueFd existing;
    int err = try_open_in_root(root_fd, path, O_PATH | O_DIRECTORY, 0, symlinks, existing);
    if (err == 0) return existing;
    if (err != ENOENT) throw_in_root_error(root_fd, path, symlinks, err);
  }
  UniqueFd dir(::fcntl(root_fd, F_DUPFD_CLOEXEC, 0));
  if (!dir) throw_errno("dup root fd");
  std::string walked;
  for (const std::string& comp : path_components(path)) {
    walked += "/" + comp;
    // mkdirat never follows a symlink in its last component (EEXIST); the in-root open below
    // then resolves it, so a symlink to a missing target or a non-directory is an error.
    if (::mkdirat(dir.get(), comp.c_str(), mode) != 0 && errno != EEXIST) throw_errno("mkdir " + walked);
    UniqueFd next = open_in_root(root_fd, walked, O_PATH | O_DIRECTORY, 0, symlinks);
    dir = std::move(next);
  }
  return dir;
}

std::pair<UniqueFd, std::string> open_parent_in_root(int root_fd, std::string_view path, bool create_parents,
                                                     mode_t dir_mode) {
  std::vector<std::string> parts = path_components(path);
  if (parts.empty()) throw Error("path " + std::string(path) + " names the root itself");
  std::string last = parts.back();
  if (last == "..") throw Error("path " + std::string(path) + " ends in ..");
  parts.pop_back();
  std::string parent = join_components(parts);
  UniqueFd fd = create_parents ? mkdir_all_in_root(root_fd, parent, dir_mode)
                               : open_in_root(root_fd, parent, O_PATH | O_DIRECTORY);
  return {std::move(fd), last};
}

std::string fd_path(int fd) {
  char buf[PATH_MAX];
  ssize_t n = ::readlink(proc_fd_path(fd).c_str(), buf, sizeof buf - 1);
  if (n < 0) return "fd " + std::to_string(fd);
  return std::string(buf, static_cast<size_t>(n));
}

std::optional<std::string> read_regular_in_root(int root_fd, std::string_view path, std::size_t limit) {
  UniqueFd fd;
  int err = try_open_in_root(root_fd, path, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0, Symlinks::follow, fd);
  if (err == ENOENT) return std::nullopt;
  if (err != 0) throw_in_root_error(root_fd, path, Symlinks::follow, err);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) throw_errno("stat " + std::string(path));
  if (!S_ISREG(st.st_mode)) throw Error(std::string(path) + ": not a regular file, refused", EINVAL);
  if (static_cast<std::uint64_t>(st.st_size) > limit)
    throw Error(
        std::string(path) + ": " + std::to_string(st.st_size) + " bytes, over the limit of " + std::to_string(limit),
        EFBIG);
  // Sized from fstat (one byte more, to see a file that grew) and grown while reading, up to
  // the limit: never the whole limit at once (zeroing 4 MiB cost a container start ~2 ms).
  std::string out;
  out.resize(std::min(limit + 1, std::max<std::size_t>(static_cast<std::size_t>(st.st_size) + 1, 4096)));
  std::size_t got = 0;
  for (;;) {
    if (got == out.size()) {
      if (out.size() > limit) break;
      out.resize(std::min(limit + 1, out.size() * 2));
    }
    ssize_t n = ::read(fd.get(), out.data() + got, out.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno("read " + std::string(path));
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  // It may have grown since fstat.
  if (got > limit) throw Error(std::string(path) + ": over the limit of " + std::to_string(limit) + " bytes", EFBIG);
  out.resize(got);
  return out;
}

void use_in_root_fallback(bool on) { g_openat2_missing = on; }

std::string proc_fd_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

}  // namespace kiln
