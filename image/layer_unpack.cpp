#include "image/layer_unpack.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <tuple>
#include <exception>
#include <memory>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/error.hpp"
#include "common/user_namespace.hpp"
#include "common/failpoint.hpp"
#include "common/files.hpp"
#include "common/in_root.hpp"
#include "image/fs_at.hpp"
#include "image/gzip_inflate.hpp"

namespace kiln::image {
namespace {

constexpr size_t kReadBuffer = 1 << 20;
constexpr uint64_t kProgressStep = 4 << 20;

struct ArchiveFree {
  void operator()(archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<archive, ArchiveFree>;

// The two-stage stream: input -> (hash, copy) -> decompressor -> (hash, cap) -> tar reader.
// The decompressor is ISA-L's igzip for gzip when it is available (gzip_inflate.hpp), else
// libarchive's filters (zlib for gzip) behind a raw-format reader.
struct Stream {
  const InputReader& input;
  const UnpackOptions& opt;
  Sha256 blob_hash;
  Sha256 diff_hash;
  uint64_t in_bytes = 0;
  uint64_t out_bytes = 0;
  uint64_t next_progress = kProgressStep;
  std::vector<char> buf = std::vector<char>(kReadBuffer);
  size_t peeked = 0;  // input bytes at the start of buf read to tell the compression, not handed on yet
  archive* outer = nullptr;
  std::unique_ptr<GzipInflater> gunzip;
  std::vector<char> inflated;  // gunzip's output block
  std::exception_ptr error;

  size_t read_input(char* at, size_t cap) {
    const size_t u = input(at, cap);
    in_bytes += u;
    if (opt.expected_size >= 0 && in_bytes > static_cast<uint64_t>(opt.expected_size))
      throw Error("layer is larger than its descriptor says (" + std::to_string(opt.expected_size) + " bytes)");
    if (opt.hash && opt.hash_blob) blob_hash.update(at, u);
    if (opt.copy_fd >= 0) write_all(opt.copy_fd, std::string_view(at, u), "blob copy");
    if (opt.progress && in_bytes >= next_progress) {
      opt.progress(in_bytes);
      next_progress = in_bytes + kProgressStep;
    }
    return u;
  }

  // The next chunk of input in buf: the peeked bytes first.
  size_t next_chunk() {
    if (peeked) return std::exchange(peeked, 0);
    return read_input(buf.data(), buf.size());
  }

  // Reads the first few bytes (a reader may return fewer than asked), to tell gzip from others.
  void peek(size_t want) {
    while (peeked < want) {
      size_t n = read_input(buf.data() + peeked, buf.size() - peeked);
      if (n == 0) break;
      peeked += n;
    }
  }

  void account_output(const void* data, size_t n) {
    out_bytes += n;
    if (out_bytes > opt.max_size)
      throw Error("layer decompresses to more than the limit of " + std::to_string(opt.max_size) +
                  " bytes (KILN_MAX_LAYER_SIZE)");
    if (opt.hash) diff_hash.update(data, n);
  }
};

la_ssize_t read_compressed(archive*, void* ud, const void** out) {
  auto* s = static_cast<Stream*>(ud);
  try {
    size_t n = s->next_chunk();
    *out = s->buf.data();
    return static_cast<la_ssize_t>(n);
  } catch (...) {
    s->error = std::current_exception();
    return -1;
  }
}

la_ssize_t read_decompressed(archive*, void* ud, const void** out) {
  auto* s = static_cast<Stream*>(ud);
  try {
    size_t size = 0;
    la_int64_t off = 0;
    int r = archive_read_data_block(s->outer, out, &size, &off);
    if (r == ARCHIVE_EOF) return 0;
    if (r < ARCHIVE_WARN) {
      if (s->error) return -1;
      const char* msg = archive_error_string(s->outer);
      throw Error(std::string("decompress: ") + (msg ? msg : "unknown error"));
    }
    s->account_output(*out, size);
    return static_cast<la_ssize_t>(size);
  } catch (...) {
    if (!s->error) s->error = std::current_exception();
    return -1;
  }
}

la_ssize_t read_inflated(archive*, void* ud, const void** out) {
  auto* s = static_cast<Stream*>(ud);
  try {
    size_t n = s->gunzip->read(s->inflated.data(), s->inflated.size());
    s->account_output(s->inflated.data(), n);
    *out = s->inflated.data();
    return static_cast<la_ssize_t>(n);
  } catch (...) {
    if (!s->error) s->error = std::current_exception();
    return -1;
  }
}

std::string join(const std::string& dir, const std::string& name) { return dir.empty() ? name : dir + "/" + name; }

// Writes the entries of one tar stream into root_fd.
class Extractor {
 public:
  Extractor(archive* tar, int root_fd, WhiteoutStrategy& ws, const std::exception_ptr& stream_error,
            const UnpackOptions& opt)
      : tar_(tar), root_(root_fd), ws_(ws), stream_error_(stream_error), opt_(opt) {}

  void entry(archive_entry* e) {
    const char* raw = archive_entry_pathname(e);
    if (!raw) throw Error("entry with an unreadable name");
    std::string name = raw;
    std::string path = clean_entry_path(name);                             // its error names the entry already
    if (opt_.select && !opt_.select(path, archive_entry_size(e))) return;  // data is read past
    with_context("entry " + name, [&] { apply(e, path); });
  }

  // Directory mtimes last: creating children would change them again.
  void finish() {
    for (auto it = dir_times_.rbegin(); it != dir_times_.rend(); ++it) {
      try {
        auto [parent, last] = open_parent_in_root(root_, it->first, false);
        ::utimensat(parent.get(), last.c_str(), it->second.ts, AT_SYMLINK_NOFOLLOW);
      } catch (const Error&) {
        // A later entry of the same layer removed or replaced it: nothing to stamp.
      }
    }
  }

 private:
  struct Times {
    struct timespec ts[2];
  };

  void apply(archive_entry* e, const std::string& path) {
    if (stale_) {
      cache_.clear();
      stale_ = false;
    }
    if (path.empty()) return;  // "./": the root keeps the mode its owner gave it
    auto slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "" : path.substr(0, slash);
    std::string base = slash == std::string::npos ? path : path.substr(slash + 1);

    if (base.starts_with(".wh.")) {
      cache_.clear();
      stale_ = true;  // a whiteout may delete directories below cached paths
      if (base == ".wh..wh..opq") {
        ws_.opaque(root_, dir);
      } else if (!base.starts_with(".wh..wh.")) {  // other .wh..wh. names are aufs bookkeeping
        std::string target = base.substr(4);
        if (target == "." || target == "..") throw Error("invalid whiteout");
        ws_.whiteout(root_, parent(dir), target, join(dir, target));
      }
      return;
    }

    int pfd = parent(dir);
    auto type = archive_entry_filetype(e);
    const char* hardlink = archive_entry_hardlink(e);
    struct stat st;
    bool exists = ::fstatat(pfd, base.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
    if (exists && !(S_ISDIR(st.st_mode) && type == AE_IFDIR && !hardlink)) {
      if (hardlink && clean_entry_path(hardlink, "hardlink target") == path) return;  // a link to itself: nothing to do
      stale_ = true;  // not cleared now: pfd itself may live in the cache
      remove_at(pfd, base);
      exists = false;
    }

    if (hardlink) {
      make_hardlink(hardlink, pfd, base);
    } else {
      switch (type) {
        case AE_IFDIR: make_dir(e, pfd, base, path, exists); break;
        case AE_IFREG: make_file(e, pfd, base); break;
        case AE_IFLNK: make_symlink(e, pfd, base); break;
        case AE_IFCHR:
        case AE_IFBLK:
        case AE_IFIFO: make_node(e, pfd, base, type); break;
        case AE_IFSOCK: return;  // sockets are not content
        default: throw Error("unsupported entry type " + std::to_string(type));
      }
    }
    ws_.created(path);
  }

  // The resolved fd of a directory inside the root, created when missing. Cached: tar
  // entries come grouped by directory. Any removal clears the cache (a path may change).
  int parent(const std::string& dir) {
    if (dir.empty()) return root_;
    if (auto it = cache_.find(dir); it != cache_.end()) return it->second.get();
    if (cache_.size() > 256) cache_.clear();
    UniqueFd fd = mkdir_all_in_root(root_, dir);
    int raw = fd.get();
    cache_.emplace(dir, std::move(fd));
    return raw;
  }

  void set_owner(int fd, const char* name, int flags, archive_entry* e) {
    if (!is_root_) return;  // rootless: files stay ours
    if (::fchownat(fd, name, static_cast<uid_t>(archive_entry_uid(e)), static_cast<gid_t>(archive_entry_gid(e)),
                   flags) == 0)
      return;
    // In a user namespace, an id it does not map (EINVAL) is folded onto its root, the one id
    // a user without /etc/subuid ranges has (podman's ignore_chown_errors).
    if (errno != EINVAL || !in_user_ns_) throw_errno("chown");
    if (::fchownat(fd, name, 0, 0, flags) != 0) throw_errno("chown");
  }

  void set_xattrs(int fd, const std::string& name_at, archive_entry* e) {
    const char* key;
    const void* value;
    size_t size;
    archive_entry_xattr_reset(e);
    while (archive_entry_xattr_next(e, &key, &value, &size) == ARCHIVE_OK) {
      std::string k = key;
      // overlayfs reads trusted.overlay.* (user.overlay.* when mounted with userxattr, as
      // rootless) from lower layers (opaque, redirect, metacopy): a layer must not plant them;
      // the whiteout strategy is the only writer.
      if (k.starts_with("trusted.overlay.") || k.starts_with("user.overlay.")) continue;
      int err = name_at.empty() ? (::fsetxattr(fd, key, value, size, 0) == 0 ? 0 : errno)
                                : set_xattr_at(fd, name_at, k, value, size);
      if (err == ENOTSUP || (err == EPERM && (!is_root_ || in_user_ns_))) {
        spdlog::debug("xattr {} not set: {}", k, std::strerror(err));
        continue;
      }
      if (err) throw_errno("set xattr " + k, err);
    }
  }

  static Times entry_times(archive_entry* e) {
    Times t;
    t.ts[1] = {static_cast<time_t>(archive_entry_mtime(e)), archive_entry_mtime_nsec(e)};
    if (archive_entry_atime_is_set(e))
      t.ts[0] = {static_cast<time_t>(archive_entry_atime(e)), archive_entry_atime_nsec(e)};
    else t.ts[0] = t.ts[1];
    return t;
  }

  mode_t perm(archive_entry* e) { return archive_entry_perm(e) & 07777; }

  void make_dir(archive_entry* e, int pfd, const std::string& base, const std::string& path, bool exists) {
    if (!exists && ::mkdirat(pfd, base.c_str(), 0700) != 0) throw_errno("mkdir");
    UniqueFd d(::openat(pfd, base.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!d) throw_errno("open directory");
    set_owner(d.get(), "", AT_EMPTY_PATH, e);
    if (::fchmod(d.get(), perm(e)) != 0) throw_errno("chmod");  // after chown: chown clears setgid
    set_xattrs(d.get(), "", e);
    dir_times_.emplace_back(path, entry_times(e));
    if (cache_.size() <= 256) cache_.emplace(path, std::move(d));
  }

  void make_file(archive_entry* e, int pfd, const std::string& base) {
    auto too_big = [&] {
      return Error(
          "file is larger than the limit of " + std::to_string(opt_.max_entry_size) + " bytes (KILN_MAX_LAYER_SIZE)",
          EFBIG);
    };
    if (archive_entry_size_is_set(e) && static_cast<uint64_t>(archive_entry_size(e)) > opt_.max_entry_size)
      throw too_big();
    uint64_t written = 0;
    UniqueFd f(::openat(pfd, base.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!f) throw_errno("create");
    const void* data;
    size_t size;
    la_int64_t off;
    int64_t end = 0;
    int r;
    while ((r = archive_read_data_block(tar_, &data, &size, &off)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
      const char* p = static_cast<const char*>(data);
      size_t left = size;
      written += size;
      if (written > opt_.max_entry_size || static_cast<uint64_t>(off) + size > opt_.max_entry_size) throw too_big();
      off_t at = off;
      while (left > 0) {
        ssize_t n = ::pwrite(f.get(), p, left, at);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno("write");
        p += n;
        left -= static_cast<size_t>(n);
        at += n;
      }
      end = std::max<int64_t>(end, off + static_cast<int64_t>(size));
    }
    if (r != ARCHIVE_EOF) throw_archive("read data");
    // Sparse files may end in a hole.
    if (archive_entry_size_is_set(e) && archive_entry_size(e) > end && ::ftruncate(f.get(), archive_entry_size(e)) != 0)
      throw_errno("truncate");
    set_owner(f.get(), "", AT_EMPTY_PATH, e);
    if (::fchmod(f.get(), perm(e)) != 0) throw_errno("chmod");
    set_xattrs(f.get(), "", e);
    Times t = entry_times(e);
    if (::futimens(f.get(), t.ts) != 0) throw_errno("set times");
  }

  void make_symlink(archive_entry* e, int pfd, const std::string& base) {
    const char* target = archive_entry_symlink(e);
    if (!target) throw Error("symlink without a target");
    // The target is stored as given: it is only ever resolved inside a root later.
    if (::symlinkat(target, pfd, base.c_str()) != 0) throw_errno("symlink");
    set_owner(pfd, base.c_str(), AT_SYMLINK_NOFOLLOW, e);
    set_xattrs(pfd, base, e);
    Times t = entry_times(e);
    ::utimensat(pfd, base.c_str(), t.ts, AT_SYMLINK_NOFOLLOW);
  }

  void make_node(archive_entry* e, int pfd, const std::string& base, unsigned type) {
    if (::mknodat(pfd, base.c_str(), type | perm(e), archive_entry_rdev(e)) != 0) {
      // A device node in a layer cannot be made in a user namespace; containers get their
      // devices from the runtime anyway (podman skips them too).
      if (errno == EPERM && in_user_ns_ && type != S_IFIFO) {
        spdlog::debug("device {} not made in a user namespace", base);
        return;
      }
      throw_errno("mknod");
    }
    set_owner(pfd, base.c_str(), AT_SYMLINK_NOFOLLOW, e);
    if (::fchmodat(pfd, base.c_str(), perm(e), 0) != 0) throw_errno("chmod");
    set_xattrs(pfd, base, e);
    Times t = entry_times(e);
    ::utimensat(pfd, base.c_str(), t.ts, AT_SYMLINK_NOFOLLOW);
  }

  void make_hardlink(const char* raw_target, int pfd, const std::string& base) {
    std::string target = clean_entry_path(raw_target, "hardlink target");
    if (target.empty()) throw Error("hardlink to the root directory");
    // The target is resolved inside the root like any other name; linkat(2) without
    // AT_SYMLINK_FOLLOW links a symlink itself, so nothing outside can be reached.
    UniqueFd tparent;
    std::string tlast;
    bool found = false;
    try {
      std::tie(tparent, tlast) = open_parent_in_root(root_, target, false);
      struct stat st;
      found = ::fstatat(tparent.get(), tlast.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
      if (found && S_ISDIR(st.st_mode)) throw Error("hardlink to directory " + target);
      // A whiteout this layer made means the target is deleted, not a device to link to.
      if (found && S_ISCHR(st.st_mode) && st.st_rdev == 0)
        throw Error("hardlink to " + target + ", which this layer deletes");
    } catch (const Error& e) {
      if (e.code() != ENOENT && e.code() != ENOTDIR) throw;
    }
    if (found) {
      if (::linkat(tparent.get(), tlast.c_str(), pfd, base.c_str(), 0) != 0) throw_errno("hardlink to " + target);
      return;
    }
    if (!ws_.copy_up(target, pfd, base)) throw Error("hardlink to " + target + ", which is not in the image");
  }

  [[noreturn]] void throw_archive(const std::string& what) {
    if (stream_error_) std::rethrow_exception(stream_error_);  // the real cause: cap, digest, read error
    const char* msg = archive_error_string(tar_);
    throw Error(what + ": " + (msg ? msg : "unknown error"), archive_errno(tar_));
  }

  archive* tar_;
  int root_;
  WhiteoutStrategy& ws_;
  const std::exception_ptr& stream_error_;
  const UnpackOptions& opt_;
  bool is_root_ = ::geteuid() == 0;
  bool in_user_ns_ = !in_initial_user_namespace();
  std::unordered_map<std::string, UniqueFd> cache_;
  bool stale_ = false;
  std::vector<std::pair<std::string, Times>> dir_times_;
};

}  // namespace

uint64_t max_layer_size_from_env() {
  const char* v = std::getenv("KILN_MAX_LAYER_SIZE");
  if (!v || !*v) return kDefaultMaxLayerSize;
  char* end = nullptr;
  unsigned long long n = std::strtoull(v, &end, 10);
  if (*end || n == 0) throw Error("KILN_MAX_LAYER_SIZE=" + std::string(v) + ": not a positive number of bytes");
  return n;
}

std::string clean_entry_path(const std::string& name, const char* what) {
  std::vector<std::string> parts;
  for (const auto& c : path_components(name)) {
    if (c == "..") {
      if (parts.empty()) throw Error(std::string(what) + " " + name + " climbs out of the root");
      parts.pop_back();
    } else {
      parts.push_back(c);
    }
  }
  std::string out;
  for (const auto& p : parts) out += out.empty() ? p : "/" + p;
  return out;
}

UnpackResult unpack_layer(int input_fd, int root_fd, WhiteoutStrategy& whiteouts, const UnpackOptions& options) {
  const InputReader from_fd = [input_fd](char* buf, size_t n) {
    ssize_t got;
    do got = ::read(input_fd, buf, n);
    while (got < 0 && errno == EINTR);
    if (got < 0) throw_errno("read layer");
    return static_cast<size_t>(got);
  };
  return unpack_layer(from_fd, root_fd, whiteouts, options);
}

UnpackResult unpack_layer(const InputReader& input, int root_fd, WhiteoutStrategy& whiteouts,
                          const UnpackOptions& options) {
  Stream s{input, options};
  ArchivePtr tar(archive_read_new());
  ArchivePtr outer;
  if (!tar) throw Error("libarchive: out of memory");
  archive_read_support_format_tar(tar.get());
  UnpackResult res;

  auto fail = [&](archive* a, const std::string& what) {
    if (s.error) std::rethrow_exception(s.error);
    const char* msg = archive_error_string(a);
    throw Error(what + ": " + (msg ? msg : "unknown error"));
  };

  // Writes the tar stream's entries; the decompressed stream is hashed to its very end.
  auto extract = [&](archive_read_callback* decompressed) {
    if (archive_read_open(tar.get(), &s, nullptr, decompressed, nullptr) != ARCHIVE_OK) fail(tar.get(), "read tar");
    whiteouts.begin_layer();
    Extractor x(tar.get(), root_fd, whiteouts, s.error, options);
    archive_entry* e;
    for (uint64_t entries = 0;;) {
      int r = archive_read_next_header(tar.get(), &e);
      if (r == ARCHIVE_EOF) break;
      if (r < ARCHIVE_WARN) fail(tar.get(), "read tar");
      if (++entries > options.max_entries)
        throw Error("archive has more than " + std::to_string(options.max_entries) + " entries, refused");
      x.entry(e);
      KILN_FAILPOINT("store-mid-extract");
    }
    x.finish();
    // The diff_id covers the whole decompressed stream, including the tar's trailing blocks.
    const void* out;
    while (decompressed(nullptr, &s, &out) > 0) {
    }
    if (s.error) std::rethrow_exception(s.error);
  };

  s.peek(4);
  if (looks_like_gzip(std::string_view(s.buf.data(), s.peeked)) &&
      (s.gunzip = GzipInflater::create([&s] { return std::string_view(s.buf.data(), s.next_chunk()); }))) {
    res.compression = "gzip";
    s.inflated.resize(kReadBuffer);
    extract(read_inflated);
  } else {
    outer.reset(archive_read_new());
    if (!outer) throw Error("libarchive: out of memory");
    // The compressions images use (none is built in). Named one by one rather than "all": kiln
    // links libarchive statically, and only what is named here is linked in.
    archive_read_support_filter_gzip(outer.get());
    archive_read_support_filter_zstd(outer.get());
    archive_read_support_filter_xz(outer.get());
    archive_read_support_filter_bzip2(outer.get());
    archive_read_support_format_raw(outer.get());
    s.outer = outer.get();
    if (archive_read_open(outer.get(), &s, nullptr, read_compressed, nullptr) != ARCHIVE_OK)
      fail(outer.get(), "open layer");
    archive_entry* raw_entry;
    int r = archive_read_next_header(outer.get(), &raw_entry);
    if (r == ARCHIVE_EOF) {
      // An empty input: libarchive's raw reader reports EOF; a 0-byte layer has no entries.
      res.compression = "none";
    } else {
      if (r < ARCHIVE_WARN) fail(outer.get(), "read layer");
      res.compression = archive_filter_count(outer.get()) > 1 ? archive_filter_name(outer.get(), 0) : "none";
      extract(read_decompressed);
    }
  }
  // ...and the blob digest covers every input byte, even ones the decompressor did not need.
  while (s.next_chunk() > 0) {
  }
  if (options.hash_blob) res.digest = s.blob_hash.finish();
  res.diff_id = s.diff_hash.finish();
  res.size = s.in_bytes;
  res.diff_size = s.out_bytes;
  if (options.progress) options.progress(s.in_bytes);
  return res;
}

}  // namespace kiln::image
