// The secret store: where `kiln secret create` keeps values and `kiln run --secret` reads them.
//
// Layout under the kiln root (default /var/lib/kiln):
//   secrets/              0700 root
//     lock                flock: create/rm are serialised, readers need no lock
//     values/<name>       0600 root, the value's bytes exactly (may be binary)
//     meta/<name>.json    {"name","size","created"}: everything `ls`/`inspect` show, never
//                         the value, so listing never opens a value file
// Both files are written atomically (temp file + rename); the value file is renamed into
// place last-but-one and the metadata last, so a crash leaves at worst a value without
// metadata, which `create` overwrites and `list` ignores.
//
// Names: [A-Za-z0-9][A-Za-z0-9_.-]{0,63} (no "/" or leading "." so a name is always one plain
// file name). Values: 1 byte .. kMaxSecretSize (512 KiB, like docker's 500 KB).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/secret_buffer.hpp"

namespace kiln::engine {

inline constexpr std::size_t kMaxSecretSize = 512 * 1024;

struct SecretInfo {
  std::string name;
  uint64_t size = 0;
  std::string created;  // RFC 3339
};

bool valid_secret_name(std::string_view name);
// Throws "invalid secret name \"X\": ..." (names are not secret; values never appear).
void check_secret_name(std::string_view name);

class SecretStore {
 public:
  // kiln_root is kiln's --root; the store is kiln_root/secrets. Creates it (0700) when missing
  // and tightens its mode when someone loosened it.
  explicit SecretStore(const std::string& kiln_root);
  const std::string& dir() const { return dir_; }
  std::string value_path(std::string_view name) const { return dir_ + "/values/" + std::string(name); }

  // Throws "secret NAME already exists", "secret NAME: empty value", "... larger than 512 KiB".
  SecretInfo create(std::string_view name, std::string_view value) const;
  // Sorted by name.
  std::vector<SecretInfo> list() const;
  bool exists(std::string_view name) const;
  // Throws "secret NAME not found".
  SecretInfo info(std::string_view name) const;
  SecretBuffer read(std::string_view name) const;
  void remove(std::string_view name) const;

 private:
  std::string dir_;
};

// Reads everything from fd (a file or stdin) into a SecretBuffer; throws naming `what` when
// it is larger than kMaxSecretSize (without keeping what was read).
SecretBuffer read_secret_input(int fd, std::string_view what);

}  // namespace kiln::engine
