#include "engine/build_layer_check.hpp"

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "common/error.hpp"
#include "engine/status_text.hpp"
#include "image/secret_scan.hpp"

namespace kiln::engine {
namespace {

namespace fs = std::filesystem;

// Where package managers keep what they downloaded, and what to say about it.
struct CacheDir {
  const char* prefix;  // layer-relative
  const char* what;
};
const CacheDir kCacheDirs[] = {
    {"var/lib/apt/lists", "apt package lists"}, {"var/cache/apt", "apt package cache"},
    {"root/.cache/pip", "pip cache"},           {"var/cache/apk", "apk cache"},
    {"root/.npm/_cacache", "npm cache"},        {"usr/local/share/.cache/yarn", "yarn cache"},
    {"root/.cache/go-build", "go build cache"},
};

bool under(const std::string& path, const std::string& dir) {
  return dir.empty() || path == dir ||
         (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 && path[dir.size()] == '/');
}

struct LayerFacts {
  std::vector<std::string> whiteouts;      // paths a whiteout deletes
  std::vector<std::string> opaques;        // dirs whose lower contents are hidden
  std::map<size_t, uint64_t> cache_bytes;  // index in kCacheDirs -> bytes
  bool unchecked = false;
};

// Calls f(relative path, lstat) for everything below dir, never following a symlink. A tree
// the walk cannot finish (too deep, unreadable) returns false: the checks are advice, they
// must not fail a build that succeeded.
template <typename F>
bool walk(const std::string& dir, F&& f) {
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::none, ec), end;
  if (ec) return false;
  while (it != end) {
    const fs::path& p = it->path();
    struct stat st {};
    if (::lstat(p.c_str(), &st) == 0) {
      std::string rel = p.lexically_relative(dir).string();
      f(rel, st);
    }
    it.increment(ec);
    if (ec) return false;
  }
  return true;
}

LayerFacts facts_of(const std::string& dir) {
  LayerFacts out;
  bool ok = walk(dir, [&](const std::string& rel, const struct stat& st) {
    if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) {
      out.whiteouts.push_back(rel);
      return;
    }
    if (S_ISDIR(st.st_mode)) {
      char v[2] = {};
      std::string full = dir + "/" + rel;
      if (::lgetxattr(full.c_str(), "trusted.overlay.opaque", v, 1) == 1 && v[0] == 'y') out.opaques.push_back(rel);
      return;
    }
    if (!S_ISREG(st.st_mode)) return;
    for (size_t i = 0; i < std::size(kCacheDirs); ++i)
      if (under(rel, kCacheDirs[i].prefix) && rel.find("/lock") == std::string::npos)
        out.cache_bytes[i] += static_cast<uint64_t>(st.st_size);
  });
  out.unchecked = !ok;
  return out;
}

// Bytes of regular files at or under rel in a layer dir ("" = the whole layer).
uint64_t bytes_under(const std::string& dir, const std::string& rel) {
  std::string top = rel.empty() ? dir : dir + "/" + rel;
  struct stat st {};
  if (::lstat(top.c_str(), &st) != 0) return 0;
  if (S_ISREG(st.st_mode)) return static_cast<uint64_t>(st.st_size);
  if (!S_ISDIR(st.st_mode)) return 0;
  uint64_t n = 0;
  walk(top, [&](const std::string&, const struct stat& s) {
    if (S_ISREG(s.st_mode)) n += static_cast<uint64_t>(s.st_size);
  });
  return n;
}

class Checker {
 public:
  explicit Checker(const std::vector<BuiltLayer>& layers) : layers_(layers) {}

  std::vector<BuildFinding> run() {
    for (const auto& l : layers_) facts_.push_back(l.where.empty() ? LayerFacts{} : facts_of(l.dir));
    for (size_t i = 0; i < layers_.size(); ++i) {
      if (layers_[i].where.empty()) continue;
      if (facts_[i].unchecked)
        add(i, "layer-unchecked", "its layer could not be walked to the end (too deep or unreadable): not checked");
      secrets(i);
      deleted_later(i);
      caches(i);
    }
    return std::move(out_);
  }

 private:
  void add(size_t i, std::string rule, std::string message, std::string path = "") {
    out_.push_back({std::move(rule), layers_[i].where, layers_[i].line, std::move(path), std::move(message)});
  }

  // The first later layer that deletes path (itself or a directory above it), or npos.
  size_t deleted_by(size_t i, const std::string& path) const {
    for (size_t j = i + 1; j < layers_.size(); ++j) {
      for (const auto& w : facts_[j].whiteouts)
        if (under(path, w)) return j;
      for (const auto& o : facts_[j].opaques)
        if (under(path, o) && path != o) return j;
    }
    return std::string::npos;
  }

  void secrets(size_t i) {
    std::vector<image::SecretFinding> found;
    try {
      found = image::scan_layer_dir(layers_[i].dir);
    } catch (const Error&) {
      add(i, "layer-unchecked", "its layer could not be scanned for secrets");
      return;
    }
    for (const auto& f : found) {
      std::string rel = f.path.substr(1);
      size_t j = deleted_by(i, rel);
      if (j != std::string::npos) {
        secret_paths_.push_back(rel);
        add(i, "secret-deleted-later",
            "writes " + f.path + " (" + f.kind + ") and " + layers_[j].where +
                " deletes it, but it stays readable in this step's layer; use RUN --mount=type=secret instead",
            f.path);
      } else if (layers_[i].keyword == "COPY" || layers_[i].keyword == "ADD") {
        add(i, "secret-copied",
            "copies " + f.path + ", which kiln scan flags (" + f.kind +
                "): anyone with the image can read it; add it to .dockerignore or pass it with --secret",
            f.path);
      } else {
        add(i, "secret-in-layer",
            "leaves " + f.path + " (" + f.kind + ") in its layer; use RUN --mount=type=secret instead", f.path);
      }
    }
  }

  // One finding per pair of steps, however many paths the later one deletes (rm -rf dir/*
  // leaves a whiteout per file).
  void deleted_later(size_t i) {
    for (size_t j = i + 1; j < layers_.size(); ++j) {
      std::vector<std::pair<std::string, bool>> gone;  // path, opaque
      for (const auto& w : facts_[j].whiteouts) gone.emplace_back(w, false);
      for (const auto& o : facts_[j].opaques) gone.emplace_back(o, true);
      std::sort(gone.begin(), gone.end());
      std::vector<std::string> paths;
      uint64_t total = 0;
      for (const auto& [path, opaque] : gone) {
        if (std::find(secret_paths_.begin(), secret_paths_.end(), path) != secret_paths_.end()) continue;
        uint64_t n = bytes_under(layers_[i].dir, path);
        if (n == 0) continue;
        total += n;
        paths.push_back("/" + path + (opaque ? "/*" : ""));
      }
      if (paths.empty()) continue;
      std::string shown;
      for (size_t k = 0; k < paths.size() && k < 3; ++k) shown += (k ? ", " : "") + paths[k];
      if (paths.size() > 3) shown += " and " + std::to_string(paths.size() - 3) + " more";
      add(i, "deleted-later",
          "adds " + shown + " (" + human_size(total) + ") and " + layers_[j].where + " deletes " +
              (paths.size() == 1 ? "it" : "them") +
              ": the image still carries the bytes; delete in the same RUN that makes them, or build them in "
              "another stage",
          paths.front());
    }
  }

  // Caches a later step deletes are deleted-later's finding, not this one's.
  void caches(size_t i) {
    for (const auto& [k, n] : facts_[i].cache_bytes) {
      if (n == 0) continue;
      std::string prefix = kCacheDirs[k].prefix;
      uint64_t kept = 0;
      walk(layers_[i].dir + "/" + prefix, [&](const std::string& rel, const struct stat& st) {
        if (S_ISREG(st.st_mode) && rel.find("lock") == std::string::npos &&
            deleted_by(i, prefix + "/" + rel) == std::string::npos)
          kept += static_cast<uint64_t>(st.st_size);
      });
      if (kept == 0) continue;
      std::string path = "/" + prefix;
      add(i, "package-cache",
          "leaves the " + std::string(kCacheDirs[k].what) + " (" + path + ", " + human_size(kept) +
              ") in its layer; remove it in the same RUN or use RUN --mount=type=cache,target=" + path,
          path);
    }
  }

  const std::vector<BuiltLayer>& layers_;
  std::vector<LayerFacts> facts_;
  std::vector<std::string> secret_paths_;
  std::vector<BuildFinding> out_;
};

}  // namespace

std::vector<BuildFinding> check_layers(const std::vector<BuiltLayer>& layers) { return Checker(layers).run(); }

}  // namespace kiln::engine
