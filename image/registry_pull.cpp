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

#include "common/error.hpp"
#include "common/files.hpp"
#include "common/unique_fd.hpp"
#include "image/image_config.hpp"
#include "image/media_types.hpp"
#include "image/reference.hpp"
#include "image/registry_client.hpp"

namespace kiln::image {

using json = nlohmann::json;

namespace {

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

// A blob into the layout dir, hashed while it streams (the client checks the digest).
void fetch_to_layout(RegistryClient& client, const std::string& repo, const Descriptor& d, const std::string& dir,
                     const std::function<void(uint64_t)>& on_bytes = {}) {
  const std::string path = dir + "/blobs/sha256/" + d.digest.hex;
  UniqueFd out = open_file(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
  uint64_t bytes = 0;
  client.fetch_blob(repo, d.digest, d.size > 0 ? static_cast<uint64_t>(d.size) : 0, [&](const char* p, size_t n) {
    write_all(out.get(), std::string_view(p, n), "write " + path);
    bytes += n;
    if (on_bytes) on_bytes(bytes);
  });
}

// The layers at `todo` (indexes into m.layers), fetched by up to o.parallel_layers threads, each
// with a client of its own. The first failure stops the others (their transfers abort at the
// next chunk of data) and is what the pull reports.
void fetch_layers(RegistryClient& client, const Target& t, const Manifest& m, const std::vector<size_t>& todo,
                  const std::string& dir, const PullOptions& o) {
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
        fetch_to_layout(c, t.repo, d, dir, [&](uint64_t bytes) {
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

PulledImage pull_from(const Store& store, const Target& t, const PullOptions& o, const std::string& dir) {
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
  mkdir_p(dir + "/blobs/sha256", 0700);
  write_file(dir + "/blobs/sha256/" + mdigest.hex, manifest_body, 0600);
  // A config the store holds (verified when stored) is not fetched again: a repeated pull of
  // an image that is all there asks the registry for its manifest only.
  if (store.has_blob(m.config.digest))
    write_file(dir + "/blobs/sha256/" + m.config.digest.hex, store.read_blob(m.config.digest), 0600);
  else fetch_to_layout(client, t.repo, m.config, dir);
  ImageConfig cfg = parse_image_config(read_file(dir + "/blobs/sha256/" + m.config.digest.hex));
  if (cfg.diff_ids.size() != m.layers.size())
    throw Error(t.name + ": manifest lists " + std::to_string(m.layers.size()) + " layers but the config has " +
                std::to_string(cfg.diff_ids.size()) + " diff_ids");
  std::vector<Digest> chains = chain_ids(cfg.diff_ids);
  std::vector<size_t> todo;
  for (size_t i = 0; i < m.layers.size(); ++i) {
    auto existing = store.layer(chains[i]);
    if (existing && existing->digest == m.layers[i].digest && store.has_blob(existing->digest)) continue;
    // the same blob twice in one image is fetched once
    bool twice = false;
    for (size_t k : todo) twice = twice || m.layers[k].digest == m.layers[i].digest;
    if (!twice) todo.push_back(i);
  }
  fetch_layers(client, t, m, todo, dir, o);
  out.layers_fetched = todo.size();
  json index = {{"schemaVersion", 2},
                {"mediaType", media::oci_index},
                {"manifests",
                 {{{"mediaType", media_type},
                   {"digest", mdigest.str()},
                   {"size", manifest_body.size()},
                   {"annotations", {{"org.opencontainers.image.ref.name", t.tag.empty() ? "latest" : t.tag}}}}}}};
  write_file(dir + "/index.json", index.dump(), 0600);
  write_file(dir + "/oci-layout", R"({"imageLayoutVersion":"1.0.0"})", 0600);
  LoadOptions lo;
  lo.name = t.name;
  std::vector<LoadedImage> loaded = load(store, dir, lo);
  if (loaded.size() != 1) throw Error(t.name + ": the pulled layout held " + std::to_string(loaded.size()) + " images");
  out.image = loaded.front();
  // The digest of what the tag named (the index, for a multi-arch image), kept with the record.
  auto lock = store.lock_shared();
  if (std::optional<ImageRecord> rec = store.read_record(out.image.id.hex)) {
    rec->repo_digests = {t.name.substr(0, repo_end(t.name)) + "@" + out.manifest_digest.str()};
    store.commit_image(*rec);
  }
  return out;
}

}  // namespace

std::vector<std::string> unqualified_search_registries(const std::string& text) {
  return parse_registries_conf(text, "(text)").unqualified_search;
}

PulledImage pull(const Store& store, const std::string& reference, const PullOptions& o) {
  std::vector<Target> targets = targets_for(reference, o);
  std::string errors;
  for (const auto& t : targets) {
    mkdir_p(store.tmp_dir(), 0700);
    std::string dir = store.tmp_dir() + "/pull.XXXXXX";
    if (!::mkdtemp(dir.data())) throw_errno("create a directory under " + store.tmp_dir());
    try {
      PulledImage p = pull_from(store, t, o, dir);
      remove_tree(dir);
      return p;
    } catch (const Error& e) {
      remove_tree(dir);
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
