#include "image/image_store.hpp"
#include "image/build_cache.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "common/error.hpp"
#include "common/failpoint.hpp"
#include "common/files.hpp"

namespace kiln::image {

using json = nlohmann::json;
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxJsonBlob = 32 << 20;  // manifests and configs are small; refuse absurd ones

json layer_to_json(const LayerRecord& l) {
  return {{"chain_id", l.chain_id.str()},
          {"diff_id", l.diff_id.str()},
          {"digest", l.digest.str()},
          {"media_type", l.media_type},
          {"size", l.size},
          {"diff_size", l.diff_size}};
}

LayerRecord layer_from_json(const json& j) {
  LayerRecord l;
  l.chain_id = parse_digest(j.at("chain_id").get<std::string>());
  l.diff_id = parse_digest(j.at("diff_id").get<std::string>());
  l.digest = parse_digest(j.at("digest").get<std::string>());
  l.media_type = j.value("media_type", "");
  l.size = j.value("size", int64_t{0});
  l.diff_size = j.value("diff_size", uint64_t{0});
  return l;
}

std::vector<std::string> dir_names(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) out.push_back(e.path().filename());
  return out;
}

bool valid_container_id(const std::string& id) {
  if (id.empty() || id.size() > 128 || id == "." || id == "..") return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

}  // namespace

uint64_t ImageRecord::size() const {
  uint64_t s = 0;
  for (const auto& l : layers) s += l.diff_size;
  return s;
}

Store::Store(std::string root) : root_(std::move(root)) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
  for (const char* d : {"", "/blobs/sha256", "/layers", "/images", "/refs", "/tmp"}) mkdir_p(root_ + d, 0700);
}

bool Store::has_blob(const Digest& d) const { return path_exists(blob_path(d)); }

std::optional<LayerRecord> Store::layer(const Digest& chain) const {
  auto text = read_file_if_exists(layer_path(chain) + "/layer.json");
  if (!text) return std::nullopt;
  try {
    return layer_from_json(json::parse(*text));
  } catch (const std::exception& e) {
    throw Error("layer " + chain.str() + ": corrupt layer.json: " + e.what());
  }
}

std::string Store::read_blob(const Digest& d) const {
  std::string data = with_context("blob " + d.str(), [&] {
    UniqueFd fd = open_file(blob_path(d), O_RDONLY);
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) throw_errno("stat");
    if (static_cast<size_t>(st.st_size) > kMaxJsonBlob) throw Error("too large to be a manifest or config");
    return read_fd(fd.get());
  });
  check_digest(d, sha256_of(data), "stored blob");
  return data;
}

bool Store::put_blob(const Digest& d, std::string_view data) const {
  check_digest(d, sha256_of(data));
  if (has_blob(d)) return false;
  write_file_atomic(blob_path(d), data, 0644);
  return true;
}

bool Store::commit_blob_file(const Digest& d, const std::string& file) const {
  if (has_blob(d)) return false;
  // Power loss after the rename must not leave a named blob with missing data.
  with_context("store blob " + d.str(), [&] {
    UniqueFd fd = open_file(file, O_RDONLY);
    if (::fsync(fd.get()) != 0) throw_errno("fsync " + file);
  });
  KILN_FAILPOINT("store-before-blob-rename");
  if (::rename(file.c_str(), blob_path(d).c_str()) != 0) throw_errno("store blob " + d.str());
  sync_dir(root_ + "/blobs/sha256");
  return true;
}

bool Store::commit_layer(const LayerRecord& rec, const std::string& dir) const {
  write_file(dir + "/layer.json", layer_to_json(rec).dump() + "\n", 0644);
  // Power loss after the rename must not leave a named layer with missing or empty files:
  // one syncfs writes back everything the unpack wrote (cheaper than an fsync per file).
  with_context("store layer " + rec.chain_id.str(), [&] {
    UniqueFd fd = open_file(dir, O_RDONLY | O_DIRECTORY);
    if (::syncfs(fd.get()) != 0) throw_errno("syncfs " + dir);
  });
  KILN_FAILPOINT("store-before-layer-rename");
  // rename(2) of a directory onto an existing non-empty one fails: the first load wins and
  // its (identical, same chain id) content stays.
  if (::rename(dir.c_str(), layer_path(rec.chain_id).c_str()) == 0) {
    sync_dir(root_ + "/layers");
    return true;
  }
  if (errno == EEXIST || errno == ENOTEMPTY) return false;
  throw_errno("store layer " + rec.chain_id.str());
}

void Store::discard_unreferenced(const std::vector<Digest>& layers, const std::vector<Digest>& blobs) const {
  std::set<std::string> used_layers, used_blobs;
  for (const auto& r : list()) {
    used_blobs.insert(r.id.hex);
    used_blobs.insert(r.manifest.hex);
    for (const auto& l : r.layers) {
      used_layers.insert(l.chain_id.hex);
      used_blobs.insert(l.digest.hex);
    }
  }
  for (const auto& l : layers) {
    if (used_layers.count(l.hex) || !path_exists(layer_path(l))) continue;
    TempDir trash(tmp_dir());
    if (::rename(layer_path(l).c_str(), (trash.path() + "/layer").c_str()) != 0) throw_errno("remove layer " + l.str());
    spdlog::debug("load failed: removed its layer {}", l.str());
  }
  for (const auto& b : blobs) {
    if (used_blobs.count(b.hex)) continue;
    if (::unlink(blob_path(b).c_str()) != 0 && errno != ENOENT) throw_errno("remove blob " + b.str());
  }
}

std::optional<ImageRecord> Store::read_record(const std::string& hex) const {
  auto text = read_file_if_exists(root_ + "/images/" + hex + ".json");
  if (!text) return std::nullopt;
  try {
    json j = json::parse(*text);
    ImageRecord r;
    r.id = parse_digest(j.at("id").get<std::string>());
    r.manifest = parse_digest(j.at("manifest").get<std::string>());
    r.names = j.value("names", std::vector<std::string>{});
    r.repo_digests = j.value("repo_digests", std::vector<std::string>{});
    for (const auto& l : j.at("layers")) r.layers.push_back(layer_from_json(l));
    r.created = j.value("created", "");
    r.loaded = j.value("loaded", "");
    return r;
  } catch (const std::exception& e) {
    throw Error("image record " + hex + ": corrupt: " + e.what());
  }
}

void Store::write_record(const ImageRecord& r) const {
  json j = {{"id", r.id.str()},     {"manifest", r.manifest.str()}, {"names", r.names},
            {"created", r.created}, {"loaded", r.loaded},           {"layers", json::array()}};
  for (const auto& l : r.layers) j["layers"].push_back(layer_to_json(l));
  if (!r.repo_digests.empty()) j["repo_digests"] = r.repo_digests;
  write_file_atomic(root_ + "/images/" + r.id.hex + ".json", j.dump(2) + "\n", 0644);
}

std::vector<ImageRecord> Store::list() const {
  std::vector<ImageRecord> out;
  for (const auto& n : dir_names(root_ + "/images")) {
    if (!n.ends_with(".json")) continue;
    if (auto r = read_record(n.substr(0, n.size() - 5))) out.push_back(std::move(*r));
  }
  std::sort(out.begin(), out.end(), [](const ImageRecord& a, const ImageRecord& b) {
    std::string an = a.names.empty() ? "~" : a.names.front(), bn = b.names.empty() ? "~" : b.names.front();
    return std::tie(an, a.id.hex) < std::tie(bn, b.id.hex);
  });
  return out;
}

Image Store::resolve(std::string_view ref_view) const {
  std::string ref(ref_view);
  if (ref.empty()) throw Error("image name is empty");
  auto records = list();
  std::string hex = ref.starts_with("sha256:") ? ref.substr(7) : ref;
  const ImageRecord* found = nullptr;
  std::string name;
  try {
    name = normalize_name(ref);
  } catch (const Error&) {
  }
  for (const auto& r : records)
    if (!name.empty() && std::find(r.names.begin(), r.names.end(), name) != r.names.end()) found = &r;
  if (!found && hex.size() >= 4 &&
      std::all_of(hex.begin(), hex.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); })) {
    for (const auto& r : records) {
      if (!r.id.hex.starts_with(hex)) continue;
      if (found) throw Error("image " + ref + " is ambiguous: more than one image id starts with it");
      found = &r;
    }
  }
  if (!found) throw Error("image " + ref + " not found", ENOENT);
  Image img;
  img.record = *found;
  img.config_json = read_blob(found->id);
  img.config = with_context("image " + ref, [&] { return parse_image_config(img.config_json); });
  return img;
}

std::vector<std::string> Store::layer_dirs(const Image& image) const {
  std::vector<std::string> out;
  for (const auto& l : image.record.layers) {
    std::string d = layer_path(l.chain_id) + "/diff";
    if (!path_exists(d))
      throw Error("image " + image.record.id.str() + ": layer " + l.chain_id.str() + " is missing from the store");
    out.push_back(d);
  }
  return out;
}

void Store::pin(const Digest& id, const std::string& ctr) const {
  if (!valid_container_id(ctr)) throw Error("pin image: invalid container id \"" + ctr + "\"");
  auto lock = lock_shared();
  if (!path_exists(root_ + "/images/" + id.hex + ".json")) throw Error("pin image " + id.str() + ": not found");
  mkdir_p(root_ + "/refs/" + id.hex, 0700);
  write_file(root_ + "/refs/" + id.hex + "/" + ctr, "", 0600);
}

void Store::unpin(const Digest& id, const std::string& ctr) const {
  if (!valid_container_id(ctr)) throw Error("unpin image: invalid container id \"" + ctr + "\"");
  std::string p = root_ + "/refs/" + id.hex + "/" + ctr;
  if (::unlink(p.c_str()) != 0 && errno != ENOENT) throw_errno("unpin " + p);
  // The image's (now maybe empty) pin dir stays until rmi: every container would otherwise
  // make and remove it again, two inode changes more on the store's filesystem per container.
}

std::vector<std::string> Store::pins(const Digest& id) const {
  auto v = dir_names(root_ + "/refs/" + id.hex);
  std::sort(v.begin(), v.end());
  return v;
}

void Store::commit_image(ImageRecord rec) const {
  StoreLock names_lock(root_ + "/names.lock", StoreLock::Mode::exclusive);
  for (auto& n : rec.names) n = normalize_name(n);
  // A name belongs to one image: take it from whichever image had it.
  for (auto other : list()) {
    if (other.id == rec.id) {
      for (const auto& n : other.names)
        if (std::find(rec.names.begin(), rec.names.end(), n) == rec.names.end()) rec.names.push_back(n);
      // a repository's digest is replaced by a newer one for the same repository
      for (const auto& d : other.repo_digests) {
        const std::string repo = d.substr(0, d.find('@'));
        bool replaced = std::any_of(rec.repo_digests.begin(), rec.repo_digests.end(),
                                    [&](const std::string& x) { return x.substr(0, x.find('@')) == repo; });
        if (!replaced) rec.repo_digests.push_back(d);
      }
      continue;
    }
    auto before = other.names.size();
    std::erase_if(other.names, [&](const std::string& n) {
      return std::find(rec.names.begin(), rec.names.end(), n) != rec.names.end();
    });
    if (other.names.size() != before) write_record(other);
  }
  std::sort(rec.names.begin(), rec.names.end());
  KILN_FAILPOINT("store-before-image-write");
  write_record(rec);
}

Store::Removed Store::remove(std::string_view ref, bool force) const {
  auto lock = lock_exclusive();
  StoreLock names_lock(root_ + "/names.lock", StoreLock::Mode::exclusive);
  Image img = resolve(ref);
  ImageRecord rec = img.record;
  Removed out;
  std::string name;
  try {
    name = normalize_name(ref);
  } catch (const Error&) {
  }
  bool by_name = std::find(rec.names.begin(), rec.names.end(), name) != rec.names.end();
  if (by_name && rec.names.size() > 1) {
    std::erase(rec.names, name);
    write_record(rec);
    out.untagged.push_back(name);
    return out;
  }
  auto users = pins(rec.id);
  if (!users.empty() && !force)
    throw Error("image " + std::string(ref) + " is in use by container " + users.front() +
                (users.size() > 1 ? " and " + std::to_string(users.size() - 1) + " more" : ""));
  out.untagged = rec.names;
  std::string path = root_ + "/images/" + rec.id.hex + ".json";
  if (::unlink(path.c_str()) != 0) throw_errno("remove image record " + path);
  remove_tree(root_ + "/refs/" + rec.id.hex);
  out.deleted = rec.id;
  collect_garbage();
  return out;
}

Store::Pruned Store::prune_build_cache() const {
  auto lock = lock_exclusive();  // no build is using cache layers half-way (builds hold it shared)
  std::set<std::string> used;
  for (const auto& r : list())
    for (const auto& l : r.layers) used.insert(l.chain_id.hex);
  Pruned out;
  out.entries = remove_build_cache_entries(root_, used);
  remove_tree(root_ + "/build-cache/checks");  // the build's layer-check results: recomputed when needed
  std::set<std::string> kept_layers, kept_blobs;
  add_build_cache_refs(root_, kept_layers, kept_blobs);
  for (const auto& n : dir_names(root_ + "/layers")) {
    if (used.count(n) || kept_layers.count(n)) continue;
    if (auto rec = layer(parse_digest("sha256:" + n))) {
      ++out.layers;
      out.bytes += rec->diff_size + static_cast<uint64_t>(std::max<int64_t>(rec->size, 0));
    }
  }
  collect_garbage();
  return out;
}

void Store::collect_garbage() const {
  std::set<std::string> layers, blobs;
  for (const auto& r : list()) {
    blobs.insert(r.id.hex);
    blobs.insert(r.manifest.hex);
    for (const auto& l : r.layers) {
      layers.insert(l.chain_id.hex);
      blobs.insert(l.digest.hex);
    }
  }
  add_build_cache_refs(root_, layers, blobs);  // the build cache's layers stay too
  for (const auto& n : dir_names(root_ + "/layers")) {
    if (layers.count(n)) continue;
    // Rename first: a crash mid-delete leaves junk in tmp/, never a half layer under its name.
    TempDir trash(tmp_dir());
    std::string victim = trash.path() + "/layer";
    if (::rename((root_ + "/layers/" + n).c_str(), victim.c_str()) != 0) throw_errno("remove layer " + n);
    spdlog::debug("gc: layer {}", n);
  }
  for (const auto& n : dir_names(root_ + "/blobs/sha256")) {
    if (blobs.count(n)) continue;
    std::string p = root_ + "/blobs/sha256/" + n;
    if (::unlink(p.c_str()) != 0 && errno != ENOENT) throw_errno("remove blob " + p);
    spdlog::debug("gc: blob {}", n);
  }
}

}  // namespace kiln::image
