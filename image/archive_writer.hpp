// `kiln save`: one image of the store as a docker-archive (what `docker save` writes and
// `podman load` / `docker load` read) or an oci-archive (a tar of an OCI image layout). The
// blobs are copied as stored and re-checked against their digests on the way; the archive is
// written to a temp file next to the output and renamed into place only when complete.
#pragma once
#include <string>

#include "image/image_store.hpp"

namespace kiln::image {

enum class ArchiveFormat { docker, oci };

// Throws "save: format F: expected docker-archive or oci-archive".
ArchiveFormat parse_archive_format(const std::string& text);

// name: the repo:tag the archive gives the image ("" for none). Caller holds the shared lock.
void save_image(const Store& store, const Image& image, const std::string& name, const std::string& out_path,
                ArchiveFormat format);

}  // namespace kiln::image
