// Media types kiln understands (OCI image-spec v1 and Docker image manifest schema 2).
#pragma once
#include <string_view>

namespace kiln::image::media {

inline constexpr std::string_view oci_index = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view oci_manifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view oci_config = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view oci_layer_tar = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view oci_layer_gzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view oci_layer_zstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr std::string_view docker_list = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view docker_manifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view docker_config = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view docker_layer_gzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr std::string_view docker_layer_tar = "application/vnd.docker.image.rootfs.diff.tar";

inline bool is_index(std::string_view m) { return m == oci_index || m == docker_list; }
inline bool is_manifest(std::string_view m) { return m == oci_manifest || m == docker_manifest; }
// Any tar layer, compressed or not; libarchive detects the compression from the bytes, so
// the suffix is informational. Non-distributable (foreign) layers are the same tars.
inline bool is_layer(std::string_view m) {
  return m.starts_with("application/vnd.oci.image.layer.") || m.starts_with("application/vnd.docker.image.rootfs.");
}

}  // namespace kiln::image::media
