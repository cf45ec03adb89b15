#include "image/layer_commit.hpp"

#include <fcntl.h>
#include <stdio.h>

#include "common/error.hpp"
#include "common/files.hpp"
#include "image/layer_tar_writer.hpp"
#include "image/layer_unpack.hpp"
#include "image/media_types.hpp"
#include "image/whiteout.hpp"

namespace kiln::image {
namespace {

// A new layer's record from its parents and digests; its blob (blob_tmp) and dir (dir/diff)
// go into the store, unless a layer with that chain id is stored already.
LayerRecord publish_layer(const Store& store, const std::vector<LayerRecord>& parents, const Digest& diff_id,
                          const Digest& digest, uint64_t size, uint64_t diff_size, const std::string& blob_tmp,
                          const std::string& dir) {
  std::vector<Digest> diff_ids;
  for (const auto& p : parents) diff_ids.push_back(p.diff_id);
  diff_ids.push_back(diff_id);
  LayerRecord lr;
  lr.chain_id = chain_ids(diff_ids).back();
  lr.diff_id = diff_id;
  lr.digest = digest;
  lr.media_type = std::string(media::oci_layer_tar);
  lr.size = static_cast<int64_t>(size);
  lr.diff_size = diff_size;
  store.commit_blob_file(lr.digest, blob_tmp);
  if (auto existing = store.layer(lr.chain_id)) return *existing;
  store.commit_layer(lr, dir);
  return lr;
}

}  // namespace

LayerRecord commit_layer_tar(const Store& store, const std::string& tar_path, const std::vector<LayerRecord>& parents,
                             const std::string& work_dir) {
  std::string dir = work_dir + "/layer";
  mkdir_p(dir + "/diff", 0755);
  std::vector<UniqueFd> lowers;
  for (size_t j = parents.size(); j-- > 0;)
    lowers.push_back(open_file(store.layer_path(parents[j].chain_id) + "/diff", O_PATH | O_DIRECTORY));
  OverlayWhiteouts ws(std::move(lowers));
  UniqueFd diff = open_file(dir + "/diff", O_PATH | O_DIRECTORY);
  std::string blob_tmp = dir + ".blob";
  UniqueFd blob = open_file(blob_tmp, O_WRONLY | O_CREAT | O_EXCL, 0644);
  UniqueFd in = open_file(tar_path, O_RDONLY);
  UnpackOptions uo;
  uo.max_size = max_layer_size_from_env();
  uo.copy_fd = blob.get();
  UnpackResult res = with_context("layer " + tar_path, [&] { return unpack_layer(in.get(), diff.get(), ws, uo); });
  blob.reset();
  return publish_layer(store, parents, res.diff_id, res.digest, res.size, res.diff_size, blob_tmp, dir);
}

LayerRecord commit_layer_dir(const Store& store, const std::string& upper_dir, const std::vector<LayerRecord>& parents,
                             const std::string& work_dir, int64_t epoch) {
  std::string dir = work_dir + "/layer";
  std::string blob_tmp = dir + ".blob";
  LayerTarResult t = write_layer_tar_in_place(upper_dir, blob_tmp, epoch);
  if (t.size > max_layer_size_from_env())
    throw Error("layer of " + std::to_string(t.size) + " bytes: more than the limit (KILN_MAX_LAYER_SIZE)");
  mkdir_p(dir, 0700);
  if (::rename(upper_dir.c_str(), (dir + "/diff").c_str()) != 0) {
    if (errno != EXDEV) throw_errno("layer: move " + upper_dir + " into the store");
    ::rmdir(dir.c_str());
    std::string again = work_dir + "/unpack";
    mkdir_p(again, 0700);
    return commit_layer_tar(store, blob_tmp, parents, again);
  }
  return publish_layer(store, parents, t.digest, t.digest, t.size, t.size, blob_tmp, dir);
}

}  // namespace kiln::image
