#include "image/registry_pull.hpp"

#include <fcntl.h>
#include <stdlib.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/clock.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "common/unique_fd.hpp"
#include "image/image_config.hpp"
#include "image/layer_stream.hpp"
#include "image/layer_unpack.hpp"
#include "image/load_undo.hpp"
#include "image/store_lock.hpp"
#include "image/whiteout.hpp"
#include "image/media_types.hpp"
#include "image/reference.hpp"
#include "image/registry_client.hpp"

namespace kiln::image {

using json = nlohmann::json;

namespace {

constexpr int64_t kMaxConfigSize = 32 << 20;  // as the store reads configs back

const std::vector<std::string> kManifestAccept = {std::string(media::oci_index), std::string(media::docker_list),
                                                  std::string(media::oci_manifest),
                                                  std::string(media::docker_manifest)};

struct Target {
  std::string host;       // where to connect ("registry-1.docker.io" for docker.io)
  std::string repo;       // "library/busybox"
  std::string name;       // the store's name
  std::string reference;  // tag or digest
  std::string tag;
  std::string digest;
  bool insecure = false;  // registries.conf says plain HTTP is fine
};

std::vector<Target> targets_for(const std::string& text, const PullOptions& o) {
  Reference r = parse_reference(text);
  std::vector<std::string> domains;
  const RegistriesConf conf = load_registries_conf(o.registries_conf);
  if (!r.domain.empty()) {
    domains.push_back(r.domain);
  } else {
    domains = conf.unqualified_search;
    if (domains.empty())
      throw Error("short name \"" + text + "\": no unqualified-search-registries in " + o.registries_conf +
                  "; name the registry (HOST[:PORT]/NAME)");
  }
  std::vector<Target> out;
  for (const auto& d : domains) {
    Target t;
    // [[registry]] tables: a blocked one refuses, location moves the name, insecure allows http
    RegistryRoute route = route_for(conf, d + "/" + r.path, o.registries_conf);
    const std::string host = route.name.substr(0, route.name.find('/'));
    const std::string path = route.name.find('/') == std::string::npos ? "" : route.name.substr(host.size() + 1);
    const bool hub = host == "docker.io" || host == "index.docker.io";
    t.host = hub ? "registry-1.docker.io" : host;
    t.repo = hub && path.find('/') == std::string::npos ? "library/" + path : path;
    t.insecure = route.insecure;
    t.tag = r.tag.empty() && r.digest.empty() ? "latest" : r.tag;
    t.digest = r.digest;
    t.reference = r.digest.empty() ? t.tag : r.digest;
    t.name = normalize_name(d + "/" + r.path + (r.tag.empty() ? "" : ":" + r.tag) +
                            (r.digest.empty() ? "" : "@" + r.digest));
    out.push_back(t);
  }
  return out;
}

// Where the repository part of a store name ends (before ":tag" or "@digest"; a port's colon
// comes before the last '/').
size_t repo_end(const std::string& name) {
  const size_t slash = name.rfind('/');
  const size_t at = name.find('@', slash == std::string::npos ? 0 : slash);
  const size_t colon = name.find(':', slash == std::string::npos ? 0 : slash);
  return std::min(at, colon);
}

std::string media_type_of(const RegistryResponse& r) {
  json doc = json::parse(r.body, nullptr, false);
  if (doc.is_object() && doc.contains("mediaType") && doc["mediaType"].is_string()) return doc["mediaType"];
  auto ct = r.headers.find("content-type");
  if (ct == r.headers.end()) return "";
  return ct->second.substr(0, ct->second.find(';'));
}

// The layers at `todo` (indexes into m.layers), each streamed into its own staging dir under
// `work` and published (blob and layer) as soon as its digest and diff_id check out, by up to
// o.parallel_layers threads with a client each. The first failure stops the others (their
// transfers abort at the next chunk of data) and is what the pull reports. A layer left without
// a record is unpacked from its stored blob afterwards (StreamedLayer::redo, or a blob used twice).
struct LayerJob {
  const Store& store;
  const Target& t;
  const Manifest& m;
  const std::vector<Digest>& diff_ids;
  const std::vector<Digest>& chains;
  const std::string& work;
  const PullOptions& o;
  LoadAdded& added;
  std::vector<std::optional<LayerRecord>>& records;
  std::mutex mutex;  // added, records

  // Every lower of layer i stored already: their diff dirs, nearest first.
  std::optional<std::vector<UniqueFd>> stored_lowers(size_t i) {
    std::vector<UniqueFd> lowers;
    for (size_t j = i; j-- > 0;) {
      if (!path_exists(store.layer_path(chains[j]))) return std::nullopt;
      lowers.push_back(open_file(store.layer_path(chains[j]) + "/diff", O_PATH | O_DIRECTORY));
    }
    return lowers;
  }

  LayerRecord record_of(size_t i, const UnpackResult& r) const {
    LayerRecord lr;
    lr.chain_id = chains[i];
    lr.diff_id = diff_ids[i];
    lr.digest = m.layers[i].digest;
    lr.media_type = m.layers[i].media_type;
    lr.size = static_cast<int64_t>(r.size);
    lr.diff_size = r.diff_size;
    return lr;
  }

  // Publishes a layer unpacked into dir (containing diff/) whose blob is in the store.
  void publish(size_t i, const LayerRecord& lr, const std::string& dir) {
    bool fresh = store.commit_layer(lr, dir);
    std::lock_guard<std::mutex> g(mutex);
    if (fresh) added.layers.push_back(lr.chain_id);
    records[i] = lr;
  }

  void stream(RegistryClient& c, size_t i, const std::function<void(uint64_t)>& on_bytes) {
    const Descriptor& d = m.layers[i];
    const std::string dir = work + "/layer-" + std::to_string(i);
    LayerStreamOptions so;
    so.max_layer_size = max_layer_size_from_env();
    so.lowers = stored_lowers(i);
    so.on_bytes = on_bytes;
    StreamedLayer s =
        with_context("layer " + d.digest.str(), [&] { return stream_layer(c, t.repo, d, dir, std::move(so)); });
    if (!s.redo) check_digest(diff_ids[i], s.result.diff_id, "layer " + d.digest.str() + " diff_id");
    const bool fresh_blob = store.commit_blob_file(d.digest, s.blob_file);
    if (fresh_blob) {
      std::lock_guard<std::mutex> g(mutex);
      added.blobs.push_back(d.digest);
    }
    if (s.redo) {  // left without a record: unpack_stored does it after the downloads
      spdlog::debug("layer {} links to a file of a lower layer: unpacked again once they are stored", d.digest.str());
      return;
    }
    publish(i, record_of(i, s.result), dir);
  }

  // A layer not stored after the downloads (a second use of one blob, or a redo): unpacked from
  // its stored blob onto its lowers, which are all stored by now (layers go lowest first).
  void unpack_stored(size_t i) {
    const Descriptor& d = m.layers[i];
    const std::string dir = work + "/stored-" + std::to_string(i);
    mkdir_p(dir + "/diff", 0755);
    std::optional<std::vector<UniqueFd>> lowers = stored_lowers(i);
    if (!lowers) throw Error("layer " + d.digest.str() + ": a lower layer is missing from the store");
    OverlayWhiteouts ws(std::move(*lowers));
    UniqueFd diff = open_file(dir + "/diff", O_PATH | O_DIRECTORY);
    UniqueFd in = open_file(store.blob_path(d.digest), O_RDONLY);
    UnpackOptions uo;
    uo.max_size = max_layer_size_from_env();
    UnpackResult r =
        with_context("layer " + d.digest.str(), [&] { return unpack_layer(in.get(), diff.get(), ws, uo); });
    check_digest(d.digest, r.digest, "stored blob");
    check_digest(diff_ids[i], r.diff_id, "layer " + d.digest.str() + " diff_id");
    publish(i, record_of(i, r), dir);
  }
};

void fetch_layers(RegistryClient& client, LayerJob& job, const std::vector<size_t>& todo) {
  const Manifest& m = job.m;
  const PullOptions& o = job.o;
  std::atomic<size_t> next{0};
  std::atomic<bool> stop{false};
  std::mutex failure_mutex;
  std::exception_ptr failure;
  auto work = [&](RegistryClient& c) {
    while (!stop) {
      const size_t k = next++;
      if (k >= todo.size()) return;
      const size_t i = todo[k];
      const Descriptor& d = m.layers[i];
      LayerProgress p{i + 1, m.layers.size(), d.digest, 0, static_cast<uint64_t>(std::max<int64_t>(d.size, 0)), false};
      try {
        if (o.layer_progress) {
          o.layer_progress(p);
        } else if (o.progress) {
          o.progress("layer " + std::to_string(i + 1) + "/" + std::to_string(m.layers.size()) + " " + d.digest.str() +
                     " (" + std::to_string(d.size) + " bytes)");
        }
        uint64_t reported = 0;
        job.stream(c, i, [&](uint64_t bytes) {
          if (stop) throw Error("cancelled");
          if (o.layer_progress && bytes - reported >= (256 << 10)) {
            reported = p.bytes = bytes;
            o.layer_progress(p);
          }
        });
        if (o.layer_progress) {
          p.bytes = p.total;
          p.done = true;
          o.layer_progress(p);
        }
      } catch (...) {
        std::lock_guard<std::mutex> g(failure_mutex);
        if (!failure) failure = std::current_exception();
        stop = true;
      }
    }
  };
  const size_t workers = std::max<size_t>(1, std::min(o.parallel_layers, todo.size()));
  std::vector<std::unique_ptr<RegistryClient>> clients;
  {
    std::vector<std::jthread> threads;  // joined when this scope ends, whatever happens
    try {
      for (size_t w = 1; w < workers; ++w) {
        clients.push_back(client.fork());
        threads.emplace_back(work, std::ref(*clients.back()));
      }
    } catch (...) {
      stop = true;
      throw;
    }
    work(client);
  }
  if (failure) std::rethrow_exception(failure);
}

PulledImage pull_locked(const Store& store, const Target& t, const PullOptions& o, LoadAdded& added) {
  auto lock = store.lock_shared();
  clean_stale_leftovers(store);
  TempDir work(store.tmp_dir());
  RegistryClient client(t.host, RegistryOptions{o.tls_verify && !t.insecure, find_credentials(t.host)});
  if (o.progress) o.progress("pulling " + t.name + " from " + t.host);
  RegistryResponse top = client.get_manifest(t.repo, t.reference, kManifestAccept);
  PulledImage out;
  out.name = t.name;
  out.manifest_digest = sha256_of(top.body);
  if (!t.digest.empty()) check_digest(parse_digest(t.digest), out.manifest_digest, "manifest");
  std::string manifest_body = top.body;
  std::string media_type = media_type_of(top);
  if (media::is_index(media_type)) {
    Index index = parse_index(top.body);
    Platform want = o.platform.value_or(host_platform());
    std::vector<const Descriptor*> matches = match_platform(index, want);
    if (matches.empty()) {
      std::string have;
      for (const auto& m : index.manifests)
        have += (have.empty() ? "" : ", ") + (m.platform ? m.platform->str() : "any");
      throw Error(t.name + ": no image for " + want.str() + " (the index has " + (have.empty() ? "none" : have) + ")");
    }
    const Descriptor& chosen = *matches.front();
    RegistryResponse child = client.get_manifest(t.repo, chosen.digest.str(), kManifestAccept);
    check_digest(chosen.digest, sha256_of(child.body), "manifest");
    manifest_body = child.body;
    media_type = media_type_of(child);
  }
  if (!media::is_manifest(media_type))
    throw Error(t.name + ": unsupported manifest type \"" + media_type + "\" (schema 1 and others are not pulled)");
  Manifest m = parse_manifest(manifest_body);
  Digest mdigest = sha256_of(manifest_body);
  // A config the store holds (verified when stored) is not fetched again: a repeated pull of
  // an image that is all there asks the registry for its manifest only.
  std::string config_json;
  if (store.has_blob(m.config.digest)) {
    config_json = store.read_blob(m.config.digest);
  } else {
    if (m.config.size <= 0 || m.config.size > kMaxConfigSize)
      throw Error(t.name + ": config " + m.config.digest.str() + " of " + std::to_string(m.config.size) + " bytes");
    client.fetch_blob(t.repo, m.config.digest, static_cast<uint64_t>(m.config.size),
                      [&](const char* p, size_t n) { config_json.append(p, n); });
  }
  ImageConfig cfg = with_context("config " + m.config.digest.str(), [&] { return parse_image_config(config_json); });
  if (cfg.diff_ids.size() != m.layers.size())
    throw Error(t.name + ": manifest lists " + std::to_string(m.layers.size()) + " layers but the config has " +
                std::to_string(cfg.diff_ids.size()) + " diff_ids");
  std::vector<Digest> chains = chain_ids(cfg.diff_ids);
  std::vector<std::optional<LayerRecord>> records(m.layers.size());
  std::vector<size_t> todo;
  for (size_t i = 0; i < m.layers.size(); ++i) {
    auto existing = store.layer(chains[i]);
    if (existing && existing->digest == m.layers[i].digest && store.has_blob(existing->digest)) {
      records[i] = existing;
      continue;
    }
    // the same blob twice in one image is fetched once (the second use is unpacked from it)
    bool twice = false;
    for (size_t k : todo) twice = twice || m.layers[k].digest == m.layers[i].digest;
    if (!twice) todo.push_back(i);
  }
  LayerJob job{store, t, m, cfg.diff_ids, chains, work.path(), o, added, records, {}};
  fetch_layers(client, job, todo);
  for (size_t i = 0; i < m.layers.size(); ++i)
    if (!records[i]) job.unpack_stored(i);
  out.layers_fetched = todo.size();

  if (store.put_blob(m.config.digest, config_json)) added.blobs.push_back(m.config.digest);
  if (store.put_blob(mdigest, manifest_body)) added.blobs.push_back(mdigest);
  ImageRecord rec;
  rec.id = m.config.digest;
  rec.manifest = mdigest;
  rec.names = {t.name};
  for (auto& r : records) rec.layers.push_back(*r);
  rec.created = cfg.created;
  rec.loaded = kiln::now_rfc3339();
  // The digest of what the tag named (the index, for a multi-arch image), kept with the record.
  rec.repo_digests = {t.name.substr(0, repo_end(t.name)) + "@" + out.manifest_digest.str()};
  store.commit_image(rec);
  out.image.id = rec.id;
  out.image.names = {normalize_name(t.name)};
  out.image.layers_unpacked = todo.size();
  return out;
}

PulledImage pull_from(const Store& store, const Target& t, const PullOptions& o) {
  return with_load_undo(store, [&](LoadAdded& added) { return pull_locked(store, t, o, added); });
}

}  // namespace

std::vector<std::string> unqualified_search_registries(const std::string& text) {
  return parse_registries_conf(text, "(text)").unqualified_search;
}

PulledImage pull(const Store& store, const std::string& reference, const PullOptions& o) {
  std::vector<Target> targets = targets_for(reference, o);
  std::string errors;
  for (const auto& t : targets) {
    try {
      return pull_from(store, t, o);
    } catch (const Error& e) {
      // A short name tries each search registry; a named one (or a bad image) fails at once.
      if (targets.size() == 1 || (e.code() != ENOENT && e.code() != ECONNREFUSED && e.code() != EACCES)) throw;
      errors += (errors.empty() ? "" : "; ") + std::string(e.what());
    }
  }
  throw Error("pull " + reference + ": " + errors, ENOENT);
}

bool parse_tls_verify(const std::string& text) {
  if (text == "true") return true;
  if (text == "false") return false;
  throw Error("--tls-verify " + text + ": must be true or false");
}

PullPolicy parse_pull_policy(const std::string& text) {
  if (text == "missing") return PullPolicy::missing;
  if (text == "always") return PullPolicy::always;
  if (text == "never") return PullPolicy::never;
  throw Error("--pull " + text + ": must be missing, always or never");
}

std::optional<PulledImage> ensure_image(const Store& store, const std::string& reference, PullPolicy policy,
                                        const PullOptions& o) {
  if (policy == PullPolicy::never) return std::nullopt;
  if (policy == PullPolicy::missing) {
    try {
      store.resolve(reference);
      return std::nullopt;
    } catch (const Error& e) {
      if (e.code() != ENOENT) throw;
      Reference r;
      try {
        r = parse_reference(reference);
      } catch (const Error&) {
        throw e;  // an id prefix or a bad name: the store's answer
      }
      if (r.domain.empty() && load_registries_conf(o.registries_conf).unqualified_search.empty()) throw;
    }
  }
  return pull(store, reference, o);
}

}  // namespace kiln::image
