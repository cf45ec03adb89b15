// COPY and ADD of `kiln build`: what a step copies (planned from the source tree, so the cache
// key can hash exactly those files' content and metadata), then the copy itself into the
// step's mounted rootfs. Sources are resolved inside their root (the context, or another
// stage's or image's rootfs): a name or symlink that climbs out stays inside. Destinations are
// resolved inside the image's rootfs the same way, and an existing entry is replaced, never
// written through.
#pragma once
#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "engine/build_ignore.hpp"
#include "engine/dockerfile_lexer.hpp"
#include "image/digest.hpp"

namespace kiln::engine {

struct CopySource {
  int root_fd = -1;                     // O_PATH dir fd of the source root
  const IgnoreRules* ignore = nullptr;  // the context's .dockerignore; null for stages/images
  bool keep_owner = false;              // stages keep uid/gid (the context's files become 0:0)
};

struct CopyItem {
  enum class Kind { dir, file, symlink, archive, text };
  Kind kind = Kind::file;
  std::string src;          // path in the source root (cleaned, relative)
  std::string rel;          // path under the destination ("" = the source itself)
  bool whole_file = false;  // a single named file (dest may be its new name)
  mode_t mode = 0644;
  uid_t uid = 0;
  gid_t gid = 0;
  int64_t size = 0;
  std::string link;  // symlink target
  std::string text;  // heredoc body
};

struct CopyPlan {
  std::vector<CopyItem> items;
  size_t sources = 0;  // matched sources (more than one: dest must be a directory)
};

// sources: as written after expansion; heredocs: the step's (a source "<<NAME" names one).
// add: ADD (local tars are unpacked; URLs refused). Throws "WHAT: why".
CopyPlan plan_copy(const CopySource& src, const std::vector<std::string>& sources, const std::vector<Heredoc>& heredocs,
                   bool add, const std::string& what);

// The digest of everything the plan copies: paths, types, modes, owners (when kept), sizes,
// content, link targets. No times: the layer's times are clamped anyway.
image::Digest hash_copy(const CopySource& src, const CopyPlan& plan);

struct CopyOptions {
  std::string dest;               // absolute, in the image
  bool dest_is_dir_hint = false;  // the destination was written with a trailing "/"
  std::string chown;              // --chown (names resolved in the image's /etc files)
  std::optional<mode_t> chmod;    // --chmod
};

void apply_copy(const CopySource& src, const CopyPlan& plan, int dest_root_fd, const CopyOptions& options,
                const std::string& what);

}  // namespace kiln::engine
