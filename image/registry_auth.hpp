// Who we are to a registry: credentials from the files podman and docker keep them in, and the
// challenge a registry answers 401 with (WWW-Authenticate). Credentials are secrets: they never
// reach a log line, an error message, `ps` or `inspect`.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace kiln::image {

struct Credentials {
  std::string username;
  std::string password;  // or an identity token
};

// The first file that names `host` ("registry.local:5000"): $REGISTRY_AUTH_FILE,
// $XDG_RUNTIME_DIR/containers/auth.json, ~/.docker/config.json ({"auths": {HOST: {"auth":
// base64("user:password")}}}). A malformed file is an error naming the file, never its content.
std::optional<Credentials> find_credentials(const std::string& host);

// Parses the "auths" document text (for tests and the files above); nullopt when host is absent.
std::optional<Credentials> credentials_from_auth_json(std::string_view text, const std::string& host,
                                                      const std::string& file);

// The file `kiln login` writes: $REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json,
// else /run/containers/<uid>/auth.json (podman's choice).
std::string auth_file_for_writing();

// Adds (or replaces) / removes the entry for host, keeping every other entry; the file is 0600 in
// a 0700 directory, written atomically. forget_credentials: false when there was no entry.
void store_credentials(const std::string& file, const std::string& host, const Credentials& credentials);
bool forget_credentials(const std::string& file, const std::string& host);

struct AuthChallenge {
  std::string scheme;                         // "bearer" or "basic" (lowercase)
  std::map<std::string, std::string> params;  // realm, service, scope (keys lowercase)
};

// RFC 7235 challenge as registries send it: `Bearer realm="https://auth/token",service="reg",
// scope="repository:team/app:pull"`. nullopt for anything unparseable (bounded: 8 KiB).
std::optional<AuthChallenge> parse_auth_challenge(std::string_view header);

}  // namespace kiln::image
