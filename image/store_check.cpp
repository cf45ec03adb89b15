#include "image/store_check.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <optional>
#include <set>

#include "common/error.hpp"
#include "common/files.hpp"
#include "image/build_cache.hpp"
#include "image/store_lock.hpp"

namespace kiln::image {
namespace {

namespace sfs = std::filesystem;

std::vector<std::string> store_dir_entries(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : sfs::directory_iterator(dir, ec)) out.push_back(e.path().filename());
  return out;
}

bool is_digest_hex(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// A temp file of an atomic write, or a work dir, of a process that is gone.
bool stale_temp_name(const std::string& name) { return name.find(".tmp-") != std::string::npos; }

}  // namespace

std::vector<StoreFinding> check_store(const Store& store, bool repair,
                                      const std::function<bool(const std::string&)>& container_exists) {
  std::vector<StoreFinding> out;
  std::optional<StoreLock> lock;
  if (repair) lock.emplace(store.lock_exclusive());
  else lock.emplace(store.lock_shared());
  const std::string root = store.root();
  auto note = [&](std::string what, const std::function<void()>& fix) {
    StoreFinding f{std::move(what), false};
    if (repair) {
      try {
        fix();
        f.repaired = true;
      } catch (const Error& e) {
        f.what += " (repair failed: " + std::string(e.what()) + ")";
      }
    }
    out.push_back(std::move(f));
  };

  // Image records: each must parse, and everything it names must be there.
  std::set<std::string> used_layers, used_blobs, images;
  for (const auto& n : store_dir_entries(root + "/images")) {
    std::string path = root + "/images/" + n;
    if (stale_temp_name(n)) {
      note("image record temp file " + n + ": left by an interrupted write", [&] { ::unlink(path.c_str()); });
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
        note("image " + img.record.id.str() + ": incomplete, missing " + list, [&] {
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
      note("image record " + n + ": " + e.what(), [&] {
        if (::unlink(path.c_str()) != 0) throw_errno("remove image record " + path);
      });
    }
  }

  add_build_cache_refs(root, used_layers, used_blobs);
  for (const auto& n : store_dir_entries(root + "/layers")) {
    if (used_layers.count(n)) continue;
    std::string why = is_digest_hex(n) ? "unreferenced (left by a load that failed or died)" : "not a layer";
    note("layer " + n + ": " + why, [&] {
      TempDir trash(store.tmp_dir());
      if (::rename((root + "/layers/" + n).c_str(), (trash.path() + "/layer").c_str()) != 0)
        throw_errno("remove layer " + n);
    });
  }
  for (const auto& n : store_dir_entries(root + "/blobs/sha256")) {
    if (used_blobs.count(n)) continue;
    std::string why = stale_temp_name(n) ? "temp file of an interrupted write" : "unreferenced blob";
    note("blob " + n + ": " + why, [&] {
      std::string p = root + "/blobs/sha256/" + n;
      if (::unlink(p.c_str()) != 0 && errno != ENOENT) throw_errno("remove blob " + p);
    });
  }
  for (const auto& n : store_dir_entries(store.tmp_dir())) {
    auto dash = n.find('-');
    pid_t pid = dash == std::string::npos ? 0 : static_cast<pid_t>(std::atoi(n.substr(0, dash).c_str()));
    if (pid > 0 && (::kill(pid, 0) == 0 || errno != ESRCH)) continue;  // a live load's
    note("work dir tmp/" + n + ": left by a load that died", [&] { remove_tree(store.tmp_dir() + "/" + n); });
  }
  for (const auto& img : store_dir_entries(root + "/refs")) {
    for (const auto& ctr : store_dir_entries(root + "/refs/" + img)) {
      bool image_there = images.count(img) > 0;
      if (image_there && container_exists(ctr)) continue;
      std::string why = image_there ? "its container is gone" : "its image is gone";
      note("pin of image " + img.substr(0, 12) + " by container " + ctr.substr(0, 12) + ": " + why, [&] {
        std::string p = root + "/refs/" + img + "/" + ctr;
        if (::unlink(p.c_str()) != 0 && errno != ENOENT) throw_errno("remove pin " + p);
        ::rmdir((root + "/refs/" + img).c_str());
      });
    }
  }
  return out;
}

}  // namespace kiln::image
