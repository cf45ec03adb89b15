#include "image/loader.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>
#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "common/files.hpp"
#include "image/image_source.hpp"
#include "image/layer_unpack.hpp"
#include "image/load_undo.hpp"
#include "image/media_types.hpp"
#include "image/store_lock.hpp"
#include "image/whiteout.hpp"

namespace kiln::image {
namespace {

std::string now_rfc3339() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::tm tm;
  ::gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string layer_media_type(const std::string& compression, bool docker) {
  if (compression == "gzip") return std::string(docker ? media::docker_layer_gzip : media::oci_layer_gzip);
  if (compression == "zstd") return std::string(media::oci_layer_zstd);
  return std::string(docker ? media::docker_layer_tar : media::oci_layer_tar);
}

uint64_t effective_max(uint64_t v) { return v ? v : max_layer_size_from_env(); }

// Extracts an image archive (a tar of an OCI layout or of `docker save` output) so it can be
// read like a directory; the same hardened extractor as for layers keeps its names inside.
// Two passes keep a re-load cheap: the first writes only files up to kSmallFile (index,
// manifests, configs, small layers), the second, run only when some layer is not stored
// yet, writes the big ones. Neither hashes: every blob is verified when it is used.
constexpr int64_t kSmallFile = 32 << 20;
// An image has at most 127 layers (docker's limit); an archive may hold several images.
constexpr uint64_t kMaxArchiveLayers = 256;
// A layout or docker-save tar has a few files per blob; a million entries is no image.
constexpr uint64_t kMaxArchiveEntries = 100000;
enum class Pass { small, big };

void extract_archive(const std::string& path, const std::string& dest, Pass pass) {
  UniqueFd in = open_file(path, O_RDONLY);
  mkdir_p(dest, 0700);
  UniqueFd root = open_file(dest, O_PATH | O_DIRECTORY);
  FlattenWhiteouts ws;
  UnpackOptions opt;
  // Bounded while extracting, so a bomb never reaches the disk: no blob can be larger than a
  // decompressed layer may be, and the whole archive holds at most kMaxLayers such blobs.
  const uint64_t layer_max = max_layer_size_from_env();
  opt.max_entry_size = layer_max;
  opt.max_size = layer_max > UINT64_MAX / kMaxArchiveLayers ? UINT64_MAX : layer_max * kMaxArchiveLayers;
  opt.max_entries = kMaxArchiveEntries;
  opt.hash = false;
  opt.select = [pass](const std::string&, int64_t size) { return (size > kSmallFile) == (pass == Pass::big); };
  with_context("read archive " + path, [&] { unpack_layer(in.get(), root.get(), ws, opt); });
}

// True when some layer of the source's images is not in the store yet (or the config
// cannot be read: the load itself then reports why).
bool needs_layers(const Store& store, const std::vector<SourceImage>& images) {
  for (const auto& img : images) {
    try {
      auto chains = chain_ids(parse_image_config(img.config_json).diff_ids);
      if (chains.size() != img.layers.size()) return true;
      for (size_t i = 0; i < chains.size(); ++i) {
        auto existing = store.layer(chains[i]);
        const auto& sl = img.layers[i];
        if (!existing || !store.has_blob(existing->digest) || (sl.digest && *sl.digest != existing->digest))
          return true;
      }
    } catch (const Error&) {
      return true;
    }
  }
  return false;
}

// The layers of one image that are not stored yet are unpacked by up to
// LoadOptions::parallel_layers threads, each into its own work dir, and each published (blob,
// then layer) as soon as both its digests check out; layers are independent in the store (a
// layer's whiteouts are devices and xattrs in its own dir), except for a hardlink to a file of
// a lower layer, which needs that lower stored: such a layer is unpacked again afterwards, in
// order, once all the others are (PendingLowersWhiteouts). The first failure stops the others
// at their next read; the reported one is the lowest layer's that failed on its own.
struct Loader {
  const Store& store;
  const LoadOptions& opt;
  const std::string& work;
  LoadAdded& added;
  uint64_t bytes_before = 0;  // input bytes of earlier images, for progress
  std::atomic<int> seq{0};
  std::mutex mutex;  // added, progress

  struct Layer {
    size_t i;
    std::string what;  // "layer sha256:..." for errors
    bool redo = false;
    std::optional<LayerRecord> record;
    std::exception_ptr error;
    bool cancelled = false;
  };

  // Unpacks one layer blob into work/layer-N/diff and commits it; nullopt when it has to be
  // done again once its lowers are stored (only when `lowers_stored` is false).
  std::optional<LayerRecord> unpack(UniqueFd in, const std::vector<Digest>& chains, size_t i, const Digest& diff_id,
                                    const SourceLayer& sl, bool docker, size_t total_layers,
                                    const std::atomic<bool>& stop, bool& cancelled,
                                    std::atomic<uint64_t>& image_bytes) {
    std::string dir = work + "/layer-" + std::to_string(seq++);
    mkdir_p(dir + "/diff", 0755);
    std::vector<UniqueFd> lowers;
    bool lowers_stored = true;
    for (size_t j = i; j-- > 0 && lowers_stored;) {
      if (!path_exists(store.layer_path(chains[j]))) lowers_stored = false;
      else lowers.push_back(open_file(store.layer_path(chains[j]) + "/diff", O_PATH | O_DIRECTORY));
    }
    std::optional<OverlayWhiteouts> stored;
    PendingLowersWhiteouts pending;
    if (lowers_stored) stored.emplace(std::move(lowers));
    WhiteoutStrategy& ws = stored ? static_cast<WhiteoutStrategy&>(*stored) : pending;
    UniqueFd diff = open_file(dir + "/diff", O_PATH | O_DIRECTORY);
    std::string blob_tmp = dir + ".blob";
    UniqueFd blob = open_file(blob_tmp, O_WRONLY | O_CREAT | O_EXCL, 0644);

    UnpackOptions uo;
    uo.max_size = effective_max(opt.max_layer_size);
    uo.copy_fd = blob.get();
    uo.expected_size = sl.size;
    uint64_t mine = 0;
    if (opt.progress) {
      uo.progress = [&, i, total_layers](uint64_t n) {
        const uint64_t all = image_bytes += n - mine;
        mine = n;
        std::lock_guard<std::mutex> g(mutex);
        opt.progress(LoadProgress{i + 1, total_layers, bytes_before + all, false});
      };
    }
    const int fd = in.get();
    const InputReader from_fd = [fd, &stop, &cancelled](char* buf, size_t n) {
      if (stop) {
        cancelled = true;
        throw Error("cancelled: another layer failed");
      }
      ssize_t got;
      do got = ::read(fd, buf, n);
      while (got < 0 && errno == EINTR);
      if (got < 0) throw_errno("read layer");
      return static_cast<size_t>(got);
    };
    UnpackResult res;
    try {
      res = unpack_layer(from_fd, diff.get(), ws, uo);
    } catch (const Error&) {
      if (stored || !pending.missed() || cancelled) throw;
      return std::nullopt;  // its work dir goes with the others'
    }
    if (sl.digest) {
      check_digest(*sl.digest, res.digest, "blob");
      if (sl.size >= 0 && static_cast<int64_t>(res.size) != sl.size)
        throw Error("blob " + sl.digest->str() + " is " + std::to_string(res.size) + " bytes, descriptor says " +
                    std::to_string(sl.size));
    }
    check_digest(diff_id, res.diff_id, "layer diff_id");

    LayerRecord lr;
    lr.chain_id = chains[i];
    lr.diff_id = diff_id;
    lr.digest = res.digest;
    lr.size = static_cast<int64_t>(res.size);
    lr.diff_size = res.diff_size;
    lr.media_type = sl.media_type.empty() ? layer_media_type(res.compression, docker) : sl.media_type;
    blob.reset();
    // Two layers of one image may share a blob: the blob is committed under the lock, once.
    bool fresh_blob, fresh_layer;
    {
      std::lock_guard<std::mutex> g(mutex);
      fresh_blob = store.commit_blob_file(lr.digest, blob_tmp);
      if (fresh_blob) added.blobs.push_back(lr.digest);
    }
    fresh_layer = store.commit_layer(lr, dir);
    std::lock_guard<std::mutex> g(mutex);
    if (fresh_layer) added.layers.push_back(lr.chain_id);
    else spdlog::debug("layer {} was stored by another load meanwhile", lr.chain_id.str());
    return lr;
  }

  void unpack_all(const ImageSource& source, const SourceImage& img, const std::vector<Digest>& chains,
                  const std::vector<Digest>& diff_ids, bool docker, std::vector<Layer>& todo) {
    std::atomic<size_t> next{0};
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> image_bytes{0};
    auto run = [&](Layer& l, bool first_try) {
      const SourceLayer& sl = img.layers[l.i];
      spdlog::debug("unpacking {}", l.what);
      try {
        UniqueFd in;
        try {
          in = source.open(sl.path);
        } catch (const Error& e) {
          if (e.code() == ENOENT) throw Error("layer blob " + (sl.digest ? sl.digest->str() : sl.path) + " is missing");
          throw;
        }
        l.record = with_context(l.what, [&] {
          return unpack(std::move(in), chains, l.i, diff_ids[l.i], sl, docker, img.layers.size(), stop, l.cancelled,
                        image_bytes);
        });
        l.redo = first_try && !l.record;
      } catch (...) {
        l.error = std::current_exception();
        stop = true;
      }
    };
    auto worker = [&] {
      for (size_t k; !stop && (k = next++) < todo.size();) run(todo[k], true);
    };
    const size_t workers = std::max<size_t>(1, std::min(opt.parallel_layers, todo.size()));
    {
      std::vector<std::jthread> threads;  // joined when this scope ends, whatever happens
      try {
        for (size_t w = 1; w < workers; ++w) threads.emplace_back(worker);
      } catch (...) {
        stop = true;
        throw;
      }
      worker();
    }
    for (auto& l : todo)
      if (l.error && !l.cancelled) std::rethrow_exception(l.error);
    for (auto& l : todo)
      if (l.error) std::rethrow_exception(l.error);
    // Lowest first: each one's lowers are stored by the time it runs.
    for (auto& l : todo) {
      if (!l.redo) continue;
      spdlog::debug("{} links to a file of a lower layer: unpacked again now they are stored", l.what);
      run(l, false);
      if (l.error) std::rethrow_exception(l.error);
      if (!l.record) throw Error(l.what + ": a lower layer is missing from the store");
    }
    bytes_before += image_bytes;
  }

  LoadedImage load_one(const ImageSource& source, const SourceImage& img) {
    std::string label = !img.names.empty() ? img.names.front() : img.config_digest.str();
    return with_context("image " + label, [&] { return load_checked(source, img); });
  }

  LoadedImage load_checked(const ImageSource& source, const SourceImage& img) {
    ImageConfig cfg =
        with_context("config " + img.config_digest.str(), [&] { return parse_image_config(img.config_json); });
    if (img.layers.size() != cfg.diff_ids.size())
      throw Error("manifest lists " + std::to_string(img.layers.size()) + " layers but the config has " +
                  std::to_string(cfg.diff_ids.size()) + " diff_ids");
    bool docker = !img.manifest;
    auto chains = chain_ids(cfg.diff_ids);
    Manifest man;
    if (img.manifest) {
      man = *img.manifest;
    } else {
      man.media_type = media::docker_manifest;
      man.config =
          Descriptor{img.config_media_type, img.config_digest, static_cast<int64_t>(img.config_json.size()), {}, {}};
    }
    ImageRecord rec;
    LoadedImage out;
    std::vector<std::optional<LayerRecord>> records(img.layers.size());
    std::vector<Layer> todo;
    for (size_t i = 0; i < img.layers.size(); ++i) {
      const SourceLayer& sl = img.layers[i];
      auto existing = store.layer(chains[i]);
      if (existing && store.has_blob(existing->digest) && (!sl.digest || *sl.digest == existing->digest)) {
        records[i] = *existing;  // stored before: nothing to read
        spdlog::debug("layer {} already stored", existing->chain_id.str());
      } else {
        todo.push_back(Layer{i, "layer " + (sl.digest ? sl.digest->str() : sl.path)});
      }
    }
    unpack_all(source, img, chains, cfg.diff_ids, docker, todo);
    for (auto& l : todo) records[l.i] = l.record;
    out.layers_unpacked = todo.size();
    for (auto& r : records) {
      rec.layers.push_back(*r);
      if (docker) man.layers.push_back(Descriptor{r->media_type, r->digest, r->size, {}, {}});
    }
    std::string manifest_json = img.manifest ? img.manifest_json : manifest_to_json(man);
    Digest mdigest = sha256_of(manifest_json);
    if (store.put_blob(img.config_digest, img.config_json)) added.blobs.push_back(img.config_digest);
    if (store.put_blob(mdigest, manifest_json)) added.blobs.push_back(mdigest);
    rec.id = img.config_digest;
    rec.manifest = mdigest;
    rec.names = opt.name ? std::vector<std::string>{*opt.name} : img.names;
    rec.created = cfg.created;
    rec.loaded = now_rfc3339();
    store.commit_image(rec);
    if (opt.progress) opt.progress(LoadProgress{img.layers.size(), img.layers.size(), bytes_before, true});
    out.id = rec.id;
    out.names = rec.names;
    for (auto& n : out.names) n = normalize_name(n);
    return out;
  }
};

}  // namespace

void clean_stale_leftovers(const Store& store) {
  clean_stale_temp(store.tmp_dir());
  remove_dead_writers_temp_files(store.root() + "/blobs/sha256");
  remove_dead_writers_temp_files(store.root() + "/images");
}

namespace {

std::vector<LoadedImage> load_locked(const Store& store, const std::string& path, const LoadOptions& options,
                                     LoadAdded& added) {
  auto lock = store.lock_shared();
  clean_stale_leftovers(store);
  TempDir work(store.tmp_dir());
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) throw_errno("load " + path);
  std::string src = path;
  bool archive = !S_ISDIR(st.st_mode);
  if (archive) {
    src = work.path() + "/src";
    extract_archive(path, src, Pass::small);
  }
  auto source = with_context("load " + path, [&] { return open_image_source(src); });
  Platform platform = options.platform.value_or(host_platform());
  auto images = with_context("load " + path, [&] { return source->images(platform); });
  // The names an archive carries are untrusted too: refuse a bad one before any layer work.
  if (!options.name)
    for (const auto& img : images)
      for (const auto& n : img.names) with_context("load " + path, [&] { normalize_name(n); });
  if (archive && needs_layers(store, images)) extract_archive(path, src, Pass::big);
  if (options.name && images.size() != 1)
    throw Error("load " + path + ": --name needs an archive with one image, this one has " +
                std::to_string(images.size()));
  Loader loader{store, options, work.path(), added};
  std::vector<LoadedImage> out;
  for (const auto& img : images)
    out.push_back(with_context("load " + path, [&] { return loader.load_one(*source, img); }));
  return out;
}

LoadedImage import_locked(const Store& store, const std::string& tar_path, const std::string& norm,
                          const LoadOptions& options, LoadAdded& added) {
  auto lock = store.lock_shared();
  clean_stale_leftovers(store);
  TempDir work(store.tmp_dir());
  return with_context("import " + tar_path, [&] {
    UniqueFd in = open_file(tar_path, O_RDONLY);
    std::string dir = work.path() + "/layer";
    mkdir_p(dir + "/diff", 0755);
    UniqueFd diff = open_file(dir + "/diff", O_PATH | O_DIRECTORY);
    std::string blob_tmp = dir + ".blob";
    UniqueFd blob = open_file(blob_tmp, O_WRONLY | O_CREAT | O_EXCL, 0644);
    OverlayWhiteouts ws;
    UnpackOptions uo;
    uo.max_size = effective_max(options.max_layer_size);
    uo.copy_fd = blob.get();
    if (options.progress) uo.progress = [&](uint64_t n) { options.progress(LoadProgress{1, 1, n, false}); };
    UnpackResult res = unpack_layer(in.get(), diff.get(), ws, uo);
    blob.reset();

    LayerRecord lr{
        res.diff_id,  res.diff_id, res.digest, layer_media_type(res.compression, false), static_cast<int64_t>(res.size),
        res.diff_size};
    std::string now = now_rfc3339();
    Platform host = host_platform();
    nlohmann::json cfg = {{"architecture", host.architecture},
                          {"os", "linux"},
                          {"created", now},
                          {"config", nlohmann::json::object()},
                          {"rootfs", {{"type", "layers"}, {"diff_ids", {res.diff_id.str()}}}},
                          {"history", {{{"created", now}, {"created_by", "kiln import " + tar_path}}}}};
    std::string config_json = cfg.dump();
    Manifest man;
    man.media_type = media::oci_manifest;
    man.config = Descriptor{
        std::string(media::oci_config), sha256_of(config_json), static_cast<int64_t>(config_json.size()), {}, {}};
    man.layers.push_back(Descriptor{lr.media_type, lr.digest, lr.size, {}, {}});
    std::string manifest_json = manifest_to_json(man);

    if (store.commit_blob_file(lr.digest, blob_tmp)) added.blobs.push_back(lr.digest);
    if (!store.layer(lr.chain_id) && store.commit_layer(lr, dir)) added.layers.push_back(lr.chain_id);
    if (store.put_blob(man.config.digest, config_json)) added.blobs.push_back(man.config.digest);
    Digest mdigest = sha256_of(manifest_json);
    if (store.put_blob(mdigest, manifest_json)) added.blobs.push_back(mdigest);
    ImageRecord rec;
    rec.id = man.config.digest;
    rec.manifest = mdigest;
    rec.names = {norm};
    rec.layers = {lr};
    rec.created = now;
    rec.loaded = now;
    store.commit_image(rec);
    return LoadedImage{rec.id, rec.names, 1};
  });
}

}  // namespace

std::vector<LoadedImage> load(const Store& store, const std::string& path, const LoadOptions& options) {
  if (options.name) normalize_name(*options.name);  // reject a bad name before any work
  return with_load_undo(store, [&](LoadAdded& added) { return load_locked(store, path, options, added); });
}

LoadedImage import_rootfs(const Store& store, const std::string& tar_path, const std::string& name,
                          const LoadOptions& options) {
  std::string norm = normalize_name(name);
  return with_load_undo(store, [&](LoadAdded& added) { return import_locked(store, tar_path, norm, options, added); });
}

}  // namespace kiln::image
