#include "image/registry_push.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "common/files.hpp"
#include "common/unique_fd.hpp"
#include "image/manifest.hpp"
#include "image/media_types.hpp"
#include "image/reference.hpp"
#include "image/registry_client.hpp"

namespace kiln::image {

using json = nlohmann::json;

namespace {

struct PushTarget {
  std::string domain;  // as named ("docker.io", "127.0.0.1:5000")
  std::string host;    // where to connect
  std::string repo;
  std::string tag;
  std::string name;  // for messages: domain/repo:tag
  bool insecure = false;
};

// docker.io's API lives on registry-1.docker.io, and its one-word names under library/.
std::string api_host(const std::string& domain) {
  return domain == "docker.io" || domain == "index.docker.io" ? "registry-1.docker.io" : domain;
}

std::string api_repo(const std::string& domain, const std::string& path) {
  const bool hub = domain == "docker.io" || domain == "index.docker.io";
  return hub && path.find('/') == std::string::npos ? "library/" + path : path;
}

PushTarget push_target(std::string text, const std::string& conf_file) {
  if (text.rfind("docker://", 0) == 0) text = text.substr(9);
  Reference r = parse_reference(text);
  if (!r.digest.empty()) throw Error("push to " + text + ": a destination names a tag, not a digest");
  if (r.domain.empty())
    throw Error("push to " + text + ": name the registry (HOST[:PORT]/NAME[:TAG]); short names are not pushed");
  PushTarget t;
  t.domain = r.domain;
  RegistryRoute route = route_for(load_registries_conf(conf_file), r.domain + "/" + r.path, conf_file);
  const std::string host = route.name.substr(0, route.name.find('/'));
  const std::string path = route.name.find('/') == std::string::npos ? "" : route.name.substr(host.size() + 1);
  t.host = api_host(host);
  t.repo = api_repo(host, path);
  t.insecure = route.insecure;
  t.tag = r.tag.empty() ? "latest" : r.tag;
  t.name = r.domain + "/" + r.path + ":" + t.tag;
  return t;
}

std::string manifest_media_type(const std::string& body) {
  json doc = json::parse(body, nullptr, false);
  if (doc.is_object() && doc.contains("mediaType") && doc["mediaType"].is_string()) {
    std::string m = doc["mediaType"];
    if (!media::is_manifest(m)) throw Error("the stored manifest has media type \"" + m + "\"");
    return m;
  }
  return std::string(media::oci_manifest);  // OCI lets a manifest leave mediaType out
}

struct BlobToSend {
  Digest digest;
  std::string what;  // "layer 2/3", "config"
};

}  // namespace

std::vector<std::string> mount_sources(const std::vector<std::string>& names, const std::string& domain,
                                       const std::string& repo) {
  std::vector<std::string> out;
  for (const auto& n : names) {
    Reference r;
    try {
      r = parse_reference(n);
    } catch (const Error&) {
      continue;
    }
    if (r.domain != domain) continue;
    std::string from = api_repo(r.domain, r.path);
    if (from == repo) continue;
    bool seen = false;
    for (const auto& o : out) seen = seen || o == from;
    if (!seen) out.push_back(from);
    if (out.size() >= 3) break;  // a few tries per blob, not one per name
  }
  return out;
}

PushedImage push(const Store& store, const std::string& image, const std::string& destination, const PushOptions& o) {
  auto lock = store.lock_shared();  // rmi cannot collect a blob while it is being sent
  Image img = store.resolve(image);
  std::string dest = destination;
  if (dest.empty()) {
    Reference r = parse_reference(image);  // a name, not an id, must say where it goes
    if (r.domain.empty()) throw Error("push " + image + ": name the registry (kiln push IMAGE HOST[:PORT]/NAME[:TAG])");
    dest = image;
  }
  PushTarget t = push_target(dest, o.registries_conf);
  return with_context("push " + t.name, [&] {
    const std::string manifest_body = store.read_blob(img.record.manifest);
    const std::string media_type = manifest_media_type(manifest_body);
    Manifest m = parse_manifest(manifest_body);
    if (m.config.digest != img.record.id) throw Error("the stored manifest names another config");
    std::vector<BlobToSend> blobs;
    for (size_t i = 0; i < m.layers.size(); ++i)
      blobs.push_back({m.layers[i].digest, "layer " + std::to_string(i + 1) + "/" + std::to_string(m.layers.size())});
    blobs.push_back({m.config.digest, "config"});

    RegistryClient client(t.host, RegistryOptions{o.tls_verify && !t.insecure, find_credentials(t.host)});
    const std::vector<std::string> sources = mount_sources(img.record.names, t.domain, t.repo);
    PushedImage out;
    out.destination = t.name;
    auto say = [&](const std::string& line) {
      if (o.progress) o.progress(line);
    };
    say("pushing " + img.record.id.str().substr(0, 19) + " to " + t.name);
    for (const auto& b : blobs) {
      const std::string label = b.what + " " + b.digest.str().substr(0, 19);
      if (client.has_blob(t.repo, b.digest)) {
        ++out.blobs_present;
        say(label + ": already there");
        continue;
      }
      std::string upload;
      bool mounted = false;
      for (const auto& from : sources) {
        if ((mounted = client.mount_blob(t.repo, b.digest, from, upload))) {
          say(label + ": mounted from " + from);
          break;
        }
        if (!upload.empty()) break;  // the registry opened an upload instead: use it
      }
      if (mounted) {
        ++out.blobs_mounted;
        continue;
      }
      const std::string path = store.blob_path(b.digest);
      UniqueFd fd = open_file(path, O_RDONLY | O_CLOEXEC);
      struct stat st {};
      if (::fstat(fd.get(), &st) != 0) throw_errno("stat " + path);
      const auto size = static_cast<uint64_t>(st.st_size);
      if (upload.empty()) upload = client.start_upload(t.repo);
      const bool chunked = size > o.chunk_size;
      if (chunked) client.upload_chunked(t.repo, upload, b.digest, fd.get(), size, o.chunk_size);
      else client.upload_monolithic(t.repo, upload, b.digest, fd.get(), size);
      ++out.blobs_sent;
      if (chunked) ++out.blobs_chunked;
      say(label + ": sent (" + std::to_string(size) + " bytes" + (chunked ? ", in chunks)" : ")"));
    }
    out.manifest_digest = client.put_manifest(t.repo, t.tag, media_type, manifest_body);
    out.retries = client.retries();
    return out;
  });
}

}  // namespace kiln::image
