#include "engine/build_copy.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "common/dir_stream.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "common/in_root.hpp"
#include "image/layer_unpack.hpp"
#include "image/user_lookup.hpp"
#include "image/whiteout.hpp"

namespace kiln::engine {
namespace {

constexpr size_t kMaxCopyItems = 1000000;

std::optional<struct stat> stat_in(int root_fd, const std::string& rel) {
  struct stat st;
  if (rel.empty()) {
    if (::fstat(root_fd, &st) != 0) throw_errno("stat the source root");
    return st;
  }
  auto [parent, name] = open_parent_in_root(root_fd, rel, false);
  if (::fstatat(parent.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
    throw_errno("stat " + rel);
  }
  return st;
}

std::string read_link_in(int root_fd, const std::string& rel) {
  auto [parent, name] = open_parent_in_root(root_fd, rel, false);
  char buf[4096];
  ssize_t n = ::readlinkat(parent.get(), name.c_str(), buf, sizeof buf);
  if (n < 0) throw_errno("readlink " + rel);
  return std::string(buf, static_cast<size_t>(n));
}

bool looks_like_archive(int root_fd, const std::string& rel) {
  UniqueFd f = open_in_root(root_fd, rel, O_RDONLY | O_NOFOLLOW);
  unsigned char b[512] = {};
  ssize_t n = ::pread(f.get(), b, sizeof b, 0);
  if (n < 6) return false;
  if (b[0] == 0x1f && b[1] == 0x8b) return true;                                              // gzip
  if (b[0] == 0xfd && b[1] == '7' && b[2] == 'z' && b[3] == 'X' && b[4] == 'Z') return true;  // xz
  if (b[0] == 'B' && b[1] == 'Z' && b[2] == 'h') return true;                                 // bzip2
  if (b[0] == 0x28 && b[1] == 0xb5 && b[2] == 0x2f && b[3] == 0xfd) return true;              // zstd
  return n >= 262 && std::string_view(reinterpret_cast<char*>(b) + 257, 5) == "ustar";        // tar
}

class Planner {
 public:
  Planner(const CopySource& s, bool add, const std::string& what) : s_(s), add_(add), what_(what) {}

  void source(const std::string& rel) {
    auto st = stat_in(s_.root_fd, rel);
    if (!st || (s_.ignore && !rel.empty() && s_.ignore->excluded(rel)))
      throw Error(what_ + ": " + (rel.empty() ? "." : rel) + ": no such file or directory in the " +
                  (s_.ignore ? "build context" : "source"));
    ++plan.sources;
    if (S_ISDIR(st->st_mode)) {
      walk(rel, "");
      return;
    }
    item(rel, base_name(rel), *st, true);
  }

  CopyPlan plan;

 private:
  static std::string base_name(const std::string& rel) {
    size_t s = rel.rfind('/');
    return s == std::string::npos ? rel : rel.substr(s + 1);
  }

  void item(const std::string& src, const std::string& rel, const struct stat& st, bool whole) {
    if (plan.items.size() >= kMaxCopyItems)
      throw Error(what_ + ": more than " + std::to_string(kMaxCopyItems) + " files");
    CopyItem it;
    it.src = src;
    it.rel = rel;
    it.whole_file = whole;
    it.mode = st.st_mode & 07777;
    it.uid = s_.keep_owner ? st.st_uid : 0;
    it.gid = s_.keep_owner ? st.st_gid : 0;
    if (S_ISDIR(st.st_mode)) it.kind = CopyItem::Kind::dir;
    else if (S_ISLNK(st.st_mode)) {
      it.kind = CopyItem::Kind::symlink;
      it.link = read_link_in(s_.root_fd, src);
    } else if (S_ISREG(st.st_mode)) {
      it.kind = add_ && whole && looks_like_archive(s_.root_fd, src) ? CopyItem::Kind::archive : CopyItem::Kind::file;
      it.size = st.st_size;
    } else {
      return;  // devices, fifos and sockets of a context are not copied (docker neither)
    }
    plan.items.push_back(std::move(it));
  }

  void walk(const std::string& src_dir, const std::string& rel_dir) {
    UniqueFd dir = src_dir.empty() ? UniqueFd(::fcntl(s_.root_fd, F_DUPFD_CLOEXEC, 3))
                                   : open_in_root(s_.root_fd, src_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    UniqueFd listing = UniqueFd(::openat(dir.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!listing) throw_errno(what_ + ": open " + (src_dir.empty() ? "." : src_dir));
    std::vector<std::string> names;
    {
      DirStream ds(listing.get(), src_dir);
      while (const dirent* e = ds.next()) {
        std::string n = e->d_name;
        if (n != "." && n != "..") names.push_back(n);
      }
    }
    std::sort(names.begin(), names.end());
    for (const auto& n : names) {
      std::string src = src_dir.empty() ? n : src_dir + "/" + n;
      std::string rel = rel_dir.empty() ? n : rel_dir + "/" + n;
      struct stat st;
      if (::fstatat(dir.get(), n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) throw_errno(what_ + ": stat " + src);
      bool skip = s_.ignore && s_.ignore->excluded(src);
      if (!skip) item(src, rel, st, false);
      if (S_ISDIR(st.st_mode)) walk(src, rel);  // even when excluded: a `!` rule may take a child back
    }
  }

  const CopySource& s_;
  bool add_;
  const std::string& what_;
};

// Expands one glob source into the matching paths (component by component, sorted).
void expand_glob(const CopySource& s, const std::vector<std::string>& pattern, size_t i, const std::string& at,
                 std::vector<std::string>& out) {
  if (i == pattern.size()) {
    if (!(s.ignore && s.ignore->excluded(at))) out.push_back(at);
    return;
  }
  if (!has_glob(pattern[i])) {
    std::string next = at.empty() ? pattern[i] : at + "/" + pattern[i];
    if (stat_in(s.root_fd, next)) expand_glob(s, pattern, i + 1, next, out);
    return;
  }
  auto st = stat_in(s.root_fd, at);
  if (!st || !S_ISDIR(st->st_mode)) return;
  UniqueFd dir = at.empty() ? UniqueFd(::openat(s.root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC))
                            : open_in_root(s.root_fd, at, O_RDONLY | O_DIRECTORY);
  if (!dir) throw_errno("open " + at);
  std::vector<std::string> names;
  {
    DirStream ds(dir.get(), at);
    while (const dirent* e = ds.next()) {
      std::string n = e->d_name;
      if (n != "." && n != ".." && glob_match({pattern[i]}, {n})) names.push_back(n);
    }
  }
  std::sort(names.begin(), names.end());
  for (const auto& n : names) expand_glob(s, pattern, i + 1, at.empty() ? n : at + "/" + n, out);
}

void copy_bytes(int in, int out, const std::string& what) {
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(in, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno(what + ": read");
    if (n == 0) return;
    write_all(out, std::string_view(buf, static_cast<size_t>(n)), what);
  }
}

// Removes what is at parent/name unless it is a directory (which a directory may merge into).
void clear_entry(int parent, const std::string& name, bool want_dir, const std::string& what) {
  struct stat st;
  if (::fstatat(parent, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return;
  if (S_ISDIR(st.st_mode)) {
    if (want_dir) return;
    throw Error(what + ": cannot replace the directory " + name + " with a file");
  }
  if (::unlinkat(parent, name.c_str(), 0) != 0) throw_errno(what + ": remove " + name);
}

}  // namespace

CopyPlan plan_copy(const CopySource& src, const std::vector<std::string>& sources, const std::vector<Heredoc>& heredocs,
                   bool add, const std::string& what) {
  Planner p(src, add, what);
  for (const auto& raw : sources) {
    if (raw.rfind("<<", 0) == 0) {
      std::string name = raw.substr(2);
      if (!name.empty() && name[0] == '-') name.erase(0, 1);
      if (name.size() >= 2 && (name.front() == '"' || name.front() == '\'')) name = name.substr(1, name.size() - 2);
      auto h = std::find_if(heredocs.begin(), heredocs.end(), [&](const Heredoc& d) { return d.name == name; });
      if (h == heredocs.end()) throw Error(what + ": heredoc " + raw + " has no body");
      CopyItem it;
      it.kind = CopyItem::Kind::text;
      it.rel = name;
      it.whole_file = true;
      it.text = h->body;
      it.size = static_cast<int64_t>(h->body.size());
      p.plan.items.push_back(std::move(it));
      ++p.plan.sources;
      continue;
    }
    if (add && raw.find("://") != std::string::npos)
      throw Error(what + ": " + raw + ": kiln build adds no URLs (fetch it in a RUN step, or copy a local file)");
    CleanPath c = clean_relative(raw);
    if (c.climbs_out) throw Error(what + ": " + raw + ": outside the build context");
    if (has_glob(raw)) {
      std::vector<std::string> matches;
      expand_glob(src, c.parts, 0, "", matches);
      if (matches.empty())
        throw Error(what + ": " + raw + ": no files match in the " + (src.ignore ? "build context" : "source"));
      for (const auto& m : matches) p.source(m);
      continue;
    }
    p.source(c.str());
  }
  return std::move(p.plan);
}

image::Digest hash_copy(const CopySource& src, const CopyPlan& plan) {
  image::Sha256 h;
  auto field = [&](const std::string& s) {
    h.update(std::to_string(s.size()) + ":");
    h.update(s);
  };
  for (const auto& it : plan.items) {
    field(std::to_string(static_cast<int>(it.kind)) + " " + it.rel + " " + std::to_string(it.mode) + " " +
          std::to_string(it.uid) + ":" + std::to_string(it.gid) + " " + std::to_string(it.size) + " " +
          (it.whole_file ? "1" : "0"));
    if (it.kind == CopyItem::Kind::symlink) field(it.link);
    if (it.kind == CopyItem::Kind::text) field(it.text);
    if (it.kind == CopyItem::Kind::file || it.kind == CopyItem::Kind::archive) {
      UniqueFd f = open_in_root(src.root_fd, it.src, O_RDONLY | O_NOFOLLOW);
      char buf[1 << 16];
      for (;;) {
        ssize_t n = ::read(f.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno("read " + it.src);
        if (n == 0) break;
        h.update(buf, static_cast<size_t>(n));
      }
    }
  }
  return h.finish();
}

// The destination's parent dir of the last item, resolved (and made) inside the root once: a
// COPY of a tree puts many files into each directory, and the walk from the root costs a
// mkdirat and an openat per component. Only files and heredoc texts use it; any other item
// (a dir made, a symlink that may now stand where a dir was, an unpacked archive) drops it.
class DestParent {
 public:
  explicit DestParent(int root_fd) : root_fd_(root_fd) {}
  // The parent's fd and the last component of target.
  std::pair<int, std::string> get(const std::string& target) {
    CleanPath c = clean_relative(target);
    if (c.parts.empty()) throw Error("path " + target + " names the root itself");
    std::string name = c.parts.back();
    c.parts.pop_back();
    std::string parent;
    for (const auto& p : c.parts) parent += "/" + p;
    if (!fd_ || parent != path_) {
      auto [fd, last] = open_parent_in_root(root_fd_, target, true);
      fd_ = std::move(fd);
      path_ = parent;
      name = last;
    }
    return {fd_.get(), name};
  }
  void forget() { fd_.reset(); }

 private:
  int root_fd_;
  std::string path_;
  UniqueFd fd_;
};

void apply_copy(const CopySource& src, const CopyPlan& plan, int dest_root_fd, const CopyOptions& o,
                const std::string& what) {
  DestParent dest_parent(dest_root_fd);
  std::optional<image::ResolvedUser> owner;
  if (!o.chown.empty())
    owner = with_context(what + ": --chown " + o.chown, [&] { return image::resolve_user(dest_root_fd, o.chown); });
  // A destination is a directory when written so, when it already is one, or when several
  // sources go there (docker requires the "/" then).
  bool dest_dir = o.dest_is_dir_hint || o.dest == "/";
  if (!dest_dir) {
    try {
      UniqueFd d = open_in_root(dest_root_fd, o.dest, O_PATH | O_DIRECTORY);
      dest_dir = true;
    } catch (const Error&) {
    }
  }
  if (plan.sources > 1 && !dest_dir)
    throw Error(what + ": with more than one source the destination must be a directory ending in /");

  for (const auto& it : plan.items) {
    std::string target;
    if (it.whole_file) target = dest_dir ? o.dest + "/" + it.rel : o.dest;
    else target = it.rel.empty() ? o.dest : o.dest + "/" + it.rel;
    uid_t uid = owner ? owner->uid : it.uid;
    gid_t gid = owner ? owner->gid : it.gid;
    mode_t mode = o.chmod ? *o.chmod : it.mode;
    if (it.kind != CopyItem::Kind::file && it.kind != CopyItem::Kind::text) dest_parent.forget();
    with_context(what + ": " + target, [&] {
      switch (it.kind) {
        case CopyItem::Kind::dir: {
          UniqueFd d = mkdir_all_in_root(dest_root_fd, target, 0755);
          if (::fchownat(d.get(), "", uid, gid, AT_EMPTY_PATH) != 0) throw_errno("chown");
          if (::chmod(proc_fd_path(d.get()).c_str(), mode) != 0) throw_errno("chmod");
          break;
        }
        case CopyItem::Kind::archive: {
          UniqueFd d = mkdir_all_in_root(dest_root_fd, o.dest, 0755);
          UniqueFd in = open_in_root(src.root_fd, it.src, O_RDONLY | O_NOFOLLOW);
          image::FlattenWhiteouts ws;
          image::UnpackOptions uo;
          uo.hash = false;
          uo.max_size = image::max_layer_size_from_env();
          image::unpack_layer(in.get(), d.get(), ws, uo);
          break;
        }
        case CopyItem::Kind::symlink: {
          auto [parent, name] = open_parent_in_root(dest_root_fd, target, true);
          clear_entry(parent.get(), name, false, what);
          if (::symlinkat(it.link.c_str(), parent.get(), name.c_str()) != 0) throw_errno("symlink");
          if (::fchownat(parent.get(), name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0) throw_errno("chown");
          break;
        }
        case CopyItem::Kind::file:
        case CopyItem::Kind::text: {
          auto [parent, name] = dest_parent.get(target);
          clear_entry(parent, name, false, what);
          int fd = ::openat(parent, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
          if (fd < 0) throw_errno("create");
          UniqueFd out(fd);
          if (it.kind == CopyItem::Kind::text) {
            write_all(out.get(), it.text, target);
          } else {
            UniqueFd in = open_in_root(src.root_fd, it.src, O_RDONLY | O_NOFOLLOW);
            copy_bytes(in.get(), out.get(), target);
          }
          if (::fchown(out.get(), uid, gid) != 0) throw_errno("chown");
          if (::fchmod(out.get(), it.kind == CopyItem::Kind::text && !o.chmod ? 0644 : mode) != 0) throw_errno("chmod");
          break;
        }
      }
    });
  }
}

}  // namespace kiln::engine
