#include "image/layer_stream.hpp"

#include <fcntl.h>

#include <exception>
#include <thread>

#include "common/error.hpp"
#include "common/files.hpp"
#include "image/byte_queue.hpp"
#include "image/whiteout.hpp"

namespace kiln::image {
StreamedLayer stream_layer(RegistryClient& client, const std::string& repo, const Descriptor& layer,
                           const std::string& dir, LayerStreamOptions o) {
  mkdir_p(dir + "/diff", 0755);
  StreamedLayer out;
  out.blob_file = dir + ".blob";
  UniqueFd blob = open_file(out.blob_file, O_WRONLY | O_CREAT | O_EXCL, 0644);
  UniqueFd diff = open_file(dir + "/diff", O_PATH | O_DIRECTORY);
  PendingLowersWhiteouts pending;
  std::optional<OverlayWhiteouts> stored;
  if (o.lowers) stored.emplace(std::move(*o.lowers));
  WhiteoutStrategy& ws = stored ? static_cast<WhiteoutStrategy&>(*stored) : pending;

  ByteQueue queue(o.queue_bytes);
  UnpackOptions uo;
  uo.max_size = o.max_layer_size;
  uo.expected_size = layer.size;
  uo.hash_blob = false;  // fetch_blob hashes what arrives
  const InputReader from_queue = [&](char* buf, size_t n) { return queue.read(buf, n); };
  std::exception_ptr unpack_error;
  std::thread unpacker([&] {
    try {
      out.result = unpack_layer(from_queue, diff.get(), ws, uo);
    } catch (...) {
      unpack_error = std::current_exception();
    }
    // The rest of the download still has to arrive for its digest to be known (the producer
    // is bounded by the descriptor's size, so this ends).
    try {
      queue.drain();
    } catch (...) {
    }
  });

  uint64_t bytes = 0;
  try {
    client.fetch_blob(repo, layer.digest, layer.size > 0 ? static_cast<uint64_t>(layer.size) : 0,
                      [&](const char* p, size_t n) {
                        write_all(blob.get(), std::string_view(p, n), "write " + out.blob_file);
                        queue.push(p, n);  // the unpacker reads or drains until the end: never stuck
                        bytes += n;
                        if (o.on_bytes) o.on_bytes(bytes);
                      });
    queue.close();
  } catch (...) {
    queue.abort("the download failed");
    unpacker.join();
    throw;  // the download's error (digest, truncation, transport) is the cause
  }
  unpacker.join();
  blob.reset();
  if (unpack_error) {
    if (!stored && pending.missed()) {
      remove_tree(dir + "/diff");
      mkdir_p(dir + "/diff", 0755);
      out.redo = true;
      out.result = UnpackResult{};
    } else {
      std::rethrow_exception(unpack_error);
    }
  }
  out.result.digest = layer.digest;
  out.result.size = bytes;
  return out;
}

}  // namespace kiln::image
