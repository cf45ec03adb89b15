// Secrets baked into an image: what `kiln scan IMAGE` reports and `kiln load` warns about.
//
// Anyone who has an image can read every file of every layer, including files a later layer
// deletes (the whiteout only hides them in the merged view; the bytes stay in the lower layer).
// So each stored layer directory is scanned on its own, whiteouts and all, plus the config's
// Env. A finding names where (config, or layer index + diff id + path) and what kind of secret
// it looks like; it never carries or prints the value.
//
// What counts:
//   env              config Env KEY=non-empty where KEY looks like a credential (PASSWORD,
//                    PASSWD, SECRET, TOKEN, CREDENTIALS, API_KEY, ACCESS_KEY, PRIVATE_KEY,
//                    *_KEY ...; not *_FILE/_PATH/_DIR, which point at a secret, nor GPG/PUBLIC)
//   ssh-private-key  id_rsa, id_dsa, id_ecdsa, id_ed25519 (by name)
//   private-key      a "-----BEGIN ... PRIVATE KEY-----" block anywhere in a regular file
//                    (every file is streamed to its end; the tree is walked at any depth)
//   aws-credentials  .aws/credentials
//   dotenv           .env, *.env, .env.*: a line KEY=non-empty with a credential-like KEY
//   npm-token        .npmrc with _authToken, _auth or _password
//   pypi-password    .pypirc with password
//   git-credentials  .git-credentials
//   docker-auth      .docker/config.json with auths entries carrying auth/identitytoken
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "image/image_store.hpp"

namespace kiln::image {

struct SecretFinding {
  std::string kind;     // see above
  int layer = -1;       // index, lowest layer 0; -1 for the config
  std::string diff_id;  // "sha256:..." of that layer; empty for the config
  std::string path;     // "/root/.ssh/id_rsa" in the layer, or "Env DB_PASSWORD"
};

// True when an environment variable name looks like it holds a credential.
bool credential_like_name(std::string_view name);

// Findings in config Env entries ("KEY=VALUE").
std::vector<SecretFinding> scan_env(const std::vector<std::string>& env);
// Findings in one layer directory (paths relative to it, shown as absolute); layer fields unset.
// Symlinks are never followed; only regular files are read (to their end, streamed).
std::vector<SecretFinding> scan_layer_dir(const std::string& dir);
// The config and every layer of the image.
std::vector<SecretFinding> scan_image(const Store& store, const Image& image);

// "layer 1 (sha256:abcd…) /root/.ssh/id_rsa: ssh-private-key" / "config Env DB_PASSWORD: env".
std::string describe(const SecretFinding& finding);
nlohmann::json findings_json(const std::vector<SecretFinding>& findings);

}  // namespace kiln::image
