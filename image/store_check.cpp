#include "image/store_check.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <optional>
#include <set>

#include "common/check_findings.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "image/build_cache.hpp"
#include "image/store_lock.hpp"

namespace kiln::image {
namespace {

bool live_writers_temp(const std::string& name) {
  auto pid = atomic_temp_writer(name);
  return pid && (::kill(*pid, 0) == 0 || errno != ESRCH);
}

// A temp file of an atomic write whose process is gone (one without a pid is an older kiln's).
bool stale_temp_name(const std::string& name) {
  return name.find(".tmp-") != std::string::npos && !live_writers_temp(name);
}

}  // namespace

std::vector<Finding> check_store(const Store& store, bool repair,
                                 const std::function<bool(const std::string&)>& container_exists) {
  FindingList found(repair);
  std::optional<StoreLock> lock;
  if (repair) lock.emplace(store.lock_exclusive());
  else lock.emplace(store.lock_shared());
  const std::string root = store.root();

  // Image records: each must parse, and everything it names must be there.
  std::set<std::string> used_layers, used_blobs, images;
  for (const auto& n : dir_entry_names(root + "/images")) {
    std::string path = root + "/images/" + n;
    if (stale_temp_name(n)) {
      found.note("image record temp file " + n + ": left by an interrupted write", [&] { ::unlink(path.c_str()); });
      continue;
    }
    if (!n.ends_with(".json")) continue;
    std::string hex = n.substr(0, n.size() - 5);
    try {
      auto rec = store.read_record(hex);
      if (!rec) continue;  // removed meanwhile
      Image img;
      img.record = *rec;
      std::vector<std::string> missing;
      try {
        store.read_blob(rec->id);  // the config, verified
      } catch (const Error&) {
        missing.push_back("config " + rec->id.str());
      }
      if (!store.has_blob(img.record.manifest)) missing.push_back("manifest " + img.record.manifest.str());
      for (const auto& l : img.record.layers) {
        auto lr = store.layer(l.chain_id);
        if (!lr || !path_exists(store.layer_path(l.chain_id) + "/diff")) missing.push_back("layer " + l.chain_id.str());
        else if (lr->diff_id != l.diff_id) missing.push_back("layer " + l.chain_id.str() + " (other diff_id)");
        struct stat st;
        if (::stat(store.blob_path(l.digest).c_str(), &st) != 0) missing.push_back("blob " + l.digest.str());
        else if (l.size >= 0 && st.st_size != l.size) missing.push_back("blob " + l.digest.str() + " (wrong size)");
      }
      if (!missing.empty()) {
        std::string list;
        for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
        found.note("image " + img.record.id.str() + ": incomplete, missing " + list, [&] {
          if (::unlink(path.c_str()) != 0) throw_errno("remove image record " + path);
        });
        continue;
      }
      images.insert(hex);
      used_blobs.insert(img.record.id.hex);
      used_blobs.insert(img.record.manifest.hex);
      for (const auto& l : img.record.layers) {
        used_layers.insert(l.chain_id.hex);
        used_blobs.insert(l.digest.hex);
      }
    } catch (const Error& e) {
      found.note("image record " + n + ": " + e.what(), [&] {
        if (::unlink(path.c_str()) != 0) throw_errno("remove image record " + path);
      });
    }
  }

  add_build_cache_refs(root, used_layers, used_blobs);
  for (const auto& n : dir_entry_names(root + "/layers")) {
    if (used_layers.count(n)) continue;
    std::string why = is_sha256_hex(n) ? "unreferenced (left by a load that failed or died)" : "not a layer";
    found.note("layer " + n + ": " + why, [&] {
      TempDir trash(store.tmp_dir());
      if (::rename((root + "/layers/" + n).c_str(), (trash.path() + "/layer").c_str()) != 0)
        throw_errno("remove layer " + n);
    });
  }
  for (const auto& n : dir_entry_names(root + "/blobs/sha256")) {
    if (used_blobs.count(n) || live_writers_temp(n)) continue;
    std::string why = stale_temp_name(n) ? "temp file of an interrupted write" : "unreferenced blob";
    found.note("blob " + n + ": " + why, [&] {
      std::string p = root + "/blobs/sha256/" + n;
      if (::unlink(p.c_str()) != 0 && errno != ENOENT) throw_errno("remove blob " + p);
    });
  }
  for (const auto& n : dir_entry_names(store.tmp_dir())) {
    auto dash = n.find('-');
    pid_t pid = dash == std::string::npos ? 0 : static_cast<pid_t>(std::atoi(n.substr(0, dash).c_str()));
    if (pid > 0 && (::kill(pid, 0) == 0 || errno != ESRCH)) continue;  // a live load's
    found.note("work dir tmp/" + n + ": left by a load that died", [&] { remove_tree(store.tmp_dir() + "/" + n); });
  }
  for (const auto& img : dir_entry_names(root + "/refs")) {
    for (const auto& ctr : dir_entry_names(root + "/refs/" + img)) {
      bool image_there = images.count(img) > 0;
      if (image_there && container_exists(ctr)) continue;
      std::string why = image_there ? "its container is gone" : "its image is gone";
      found.note("pin of image " + img.substr(0, 12) + " by container " + ctr.substr(0, 12) + ": " + why, [&] {
        std::string p = root + "/refs/" + img + "/" + ctr;
        if (::unlink(p.c_str()) != 0 && errno != ENOENT) throw_errno("remove pin " + p);
        ::rmdir((root + "/refs/" + img).c_str());
      });
    }
  }
  return found.take();
}

}  // namespace kiln::image
