#include "image/image_source.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include "common/error.hpp"
#include "common/files.hpp"
#include "common/in_root.hpp"

namespace kiln::image {

namespace {
constexpr off_t kMaxSmallFile = 32 << 20;
}

UniqueFd ImageSource::open(const std::string& path) const {
  // O_NONBLOCK: a FIFO planted in a source must not hang the load; only regular files pass.
  UniqueFd fd = open_in_root(dir_.get(), path, O_RDONLY | O_NONBLOCK);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) throw_errno("stat " + path);
  if (!S_ISREG(st.st_mode)) throw Error(path + " is not a regular file");
  return fd;
}

std::string ImageSource::read_small(const std::string& path, const std::string& what) const {
  UniqueFd fd;
  try {
    fd = open(path);
  } catch (const Error& e) {
    if (e.code() == ENOENT) throw Error(what + " " + path + " is missing", ENOENT);
    throw;
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) throw_errno("stat " + path);
  if (!S_ISREG(st.st_mode)) throw Error(what + " " + path + " is not a regular file");
  if (st.st_size > kMaxSmallFile)
    throw Error(what + " " + path + " is too large (" + std::to_string(st.st_size) + " bytes)");
  return read_fd(fd.get());
}

std::unique_ptr<ImageSource> open_image_source(const std::string& dir) {
  UniqueFd fd = open_file(dir, O_PATH | O_DIRECTORY);
  struct stat st;
  if (::fstatat(fd.get(), "oci-layout", &st, 0) == 0) return make_oci_layout_source(std::move(fd));
  if (::fstatat(fd.get(), "manifest.json", &st, 0) == 0) return make_docker_archive_source(std::move(fd));
  throw Error(dir + ": not an OCI image layout or docker archive (no oci-layout or manifest.json)");
}

}  // namespace kiln::image
