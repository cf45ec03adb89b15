// Image references ("busybox", "registry.local:5000/team/app:1.2", "app@sha256:..."), checked
// against the grammar docker and podman use (distribution/reference): lowercase path
// components joined by '.', '_', '__' or dashes, an optional registry host[:port] first, a tag
// [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}, a digest algorithm:hex, at most 255 characters of name.
// Names come from users and from archives (RepoTags, ref.name annotations): untrusted input.
#pragma once
#include <string>
#include <string_view>

namespace kiln::image {

struct Reference {
  std::string domain;  // "" or "registry.local:5000"
  std::string path;    // "library/busybox", "team/app"
  std::string tag;     // "" when not given
  std::string digest;  // "" or "sha256:<hex>"
};

// Throws kiln::Error("invalid image name \"...\": <why>") for anything outside the grammar.
Reference parse_reference(std::string_view text);

// The store's spelling: docker.io/library/ and docker.io/ dropped, ":latest" added when there is
// neither tag nor digest.
std::string normalize_name(std::string_view text);

}  // namespace kiln::image
