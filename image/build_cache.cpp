#include "image/build_cache.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>
#include <vector>

#include "common/dir_stream.hpp"
#include "common/error.hpp"
#include "common/files.hpp"

namespace kiln::image {
namespace {

std::string cache_dir(const std::string& root) { return root + "/build-cache"; }

std::optional<BuildCacheEntry> parse_cache_entry(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  BuildCacheEntry e;
  try {
    if (j.contains("layer")) e.chain_id = parse_digest("sha256:" + j.at("layer").get<std::string>());
    if (j.contains("blob")) e.blob = parse_digest("sha256:" + j.at("blob").get<std::string>());
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (e.chain_id.has_value() != e.blob.has_value()) return std::nullopt;
  return e;
}

// Each entry file of the cache dir ("<64 hex>.json") with what it parses to (nullopt: corrupt).
template <typename Fn>
void for_each_cache_entry(const std::string& dir, Fn&& fn) {
  if (!path_exists(dir)) return;
  UniqueFd fd = open_file(dir, O_RDONLY | O_DIRECTORY);
  DirStream entries(fd.get(), dir);
  while (const dirent* e = entries.next()) {
    std::string n = e->d_name;
    if (n.size() != 69 || n.substr(64) != ".json") continue;
    auto text = read_file_if_exists(dir + "/" + n);
    if (!text) continue;
    fn(n, parse_cache_entry(*text));
  }
}

}  // namespace

std::optional<BuildCacheEntry> read_build_cache(const std::string& store_root, const Digest& key) {
  auto text = read_file_if_exists(cache_dir(store_root) + "/" + key.hex + ".json");
  if (!text) return std::nullopt;
  return parse_cache_entry(*text);  // a corrupt entry is a miss, and is rewritten
}

void write_build_cache(const std::string& store_root, const Digest& key, const BuildCacheEntry& entry) {
  nlohmann::json j = nlohmann::json::object();
  if (entry.chain_id) j["layer"] = entry.chain_id->hex;
  if (entry.blob) j["blob"] = entry.blob->hex;
  mkdir_p(cache_dir(store_root), 0700);
  write_file_atomic(cache_dir(store_root) + "/" + key.hex + ".json", j.dump(), 0600);
}

size_t remove_build_cache_entries(const std::string& store_root, const std::set<std::string>& keep_layers) {
  std::string dir = cache_dir(store_root);
  std::vector<std::string> victims;
  for_each_cache_entry(dir, [&](const std::string& name, const std::optional<BuildCacheEntry>& entry) {
    if (!entry || !entry->chain_id || !keep_layers.count(entry->chain_id->hex)) victims.push_back(name);
  });
  size_t n = 0;
  for (const auto& v : victims) {
    std::string p = dir + "/" + v;
    if (::unlink(p.c_str()) != 0) {
      if (errno == ENOENT) continue;
      throw_errno("remove build cache entry " + p);
    }
    ++n;
  }
  return n;
}

void add_build_cache_refs(const std::string& store_root, std::set<std::string>& layers, std::set<std::string>& blobs) {
  for_each_cache_entry(cache_dir(store_root), [&](const std::string&, const std::optional<BuildCacheEntry>& entry) {
    if (entry && entry->chain_id) {
      layers.insert(entry->chain_id->hex);
      if (entry->blob) blobs.insert(entry->blob->hex);
    }
  });
}

}  // namespace kiln::image
