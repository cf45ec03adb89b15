#include "image/archive_writer.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "common/files.hpp"
#include "image/media_types.hpp"
#include "image/tar_writer.hpp"

namespace kiln::image {
namespace {

void add_bytes(TarWriter& tar, const std::string& path, std::string_view bytes) {
  TarEntry e;
  e.path = path;
  e.size = bytes.size();
  tar.header(e);
  tar.data(bytes);
  if (bytes.empty()) tar.data("");
}

void add_dir(TarWriter& tar, const std::string& path) {
  TarEntry e;
  e.type = TarEntry::Type::dir;
  e.path = path;
  e.mode = 0755;
  tar.header(e);
}

// Streams a stored blob into the tar, hashing it on the way: a blob that rotted on disk is an
// error, not a bad archive.
void add_blob(TarWriter& tar, const Store& store, const Digest& d, const std::string& path) {
  std::string p = store.blob_path(d);
  UniqueFd f = with_context("blob " + d.str(), [&] { return open_file(p, O_RDONLY); });
  struct stat st;
  if (::fstat(f.get(), &st) != 0) throw_errno("stat " + p);
  TarEntry e;
  e.path = path;
  e.size = static_cast<uint64_t>(st.st_size);
  tar.header(e);
  Sha256 h;
  char buf[1 << 16];
  uint64_t left = e.size;
  while (left > 0) {
    ssize_t n = ::read(f.get(), buf, std::min<uint64_t>(sizeof buf, left));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno("read " + p);
    if (n == 0) throw Error("blob " + d.str() + " shrank while it was saved");
    h.update(buf, static_cast<size_t>(n));
    tar.data(std::string_view(buf, static_cast<size_t>(n)));
    left -= static_cast<uint64_t>(n);
  }
  check_digest(d, h.finish(), "stored blob");
}

void write_docker(TarWriter& tar, const Store& store, const Image& img, const std::string& name) {
  nlohmann::json layers = nlohmann::json::array();
  for (const auto& l : img.record.layers) {
    std::string path = l.digest.hex + "/layer.tar";
    add_dir(tar, l.digest.hex);
    add_blob(tar, store, l.digest, path);
    layers.push_back(path);
  }
  std::string config = img.record.id.hex + ".json";
  add_blob(tar, store, img.record.id, config);
  nlohmann::json m = nlohmann::json::array();
  m.push_back({{"Config", config},
               {"RepoTags", name.empty() ? nlohmann::json::array() : nlohmann::json::array({name})},
               {"Layers", layers}});
  add_bytes(tar, "manifest.json", m.dump());
}

void write_oci(TarWriter& tar, const Store& store, const Image& img, const std::string& name) {
  add_bytes(tar, "oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
  std::string manifest_json = store.read_blob(img.record.manifest);
  nlohmann::json mj = nlohmann::json::parse(manifest_json);
  nlohmann::json desc = {{"mediaType", mj.value("mediaType", std::string(media::oci_manifest))},
                         {"digest", img.record.manifest.str()},
                         {"size", manifest_json.size()}};
  if (!name.empty()) desc["annotations"] = {{"org.opencontainers.image.ref.name", name}};
  nlohmann::json index = {{"schemaVersion", 2}, {"manifests", nlohmann::json::array({desc})}};
  add_bytes(tar, "index.json", index.dump());
  add_dir(tar, "blobs");
  add_dir(tar, "blobs/sha256");
  add_blob(tar, store, img.record.manifest, "blobs/sha256/" + img.record.manifest.hex);
  add_blob(tar, store, img.record.id, "blobs/sha256/" + img.record.id.hex);
  for (const auto& l : img.record.layers) add_blob(tar, store, l.digest, "blobs/sha256/" + l.digest.hex);
}

}  // namespace

ArchiveFormat parse_archive_format(const std::string& text) {
  if (text == "docker-archive") return ArchiveFormat::docker;
  if (text == "oci-archive") return ArchiveFormat::oci;
  throw Error("save: format " + text + ": expected docker-archive or oci-archive");
}

void save_image(const Store& store, const Image& img, const std::string& name, const std::string& out_path,
                ArchiveFormat format) {
  std::string tmp = out_path + ".kiln-tmp-" + std::to_string(::getpid());
  UniqueFd out = with_context("save", [&] { return open_file(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644); });
  try {
    TarWriter tar(out.get());
    if (format == ArchiveFormat::docker) write_docker(tar, store, img, name);
    else write_oci(tar, store, img, name);
    tar.finish();
    if (::fsync(out.get()) != 0) throw_errno("save: fsync " + tmp);
    out.reset();
    if (::rename(tmp.c_str(), out_path.c_str()) != 0) throw_errno("save: rename to " + out_path);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
}

}  // namespace kiln::image
