// SecretRequest: one `kiln run --secret NAME[,type=env|mount][,target=T][,mode=0400][,uid=U][,gid=G]`.
// It holds names and options only, never a value, so it may be recorded with the container
// (`kiln inspect CONTAINER` shows which secrets a container got) and logged.
#pragma once
#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::engine {

struct SecretRequest {
  enum class Type { mount, env };
  std::string name;
  Type type = Type::mount;
  std::string target;        // mount: file name under /run/secrets; env: variable name
  mode_t mode = 0400;        // mount only
  std::optional<uid_t> uid;  // mount only; default: the container process's uid
  std::optional<gid_t> gid;  // mount only; default: the container process's gid

  // "/run/secrets/T" for mounts, "$T" for env.
  std::string where() const;
};

inline constexpr const char* kSecretsDir = "/run/secrets";

// Parses the flag's value. Errors quote the whole flag value and name the bad option:
// `--secret db,type=foo: type must be env or mount`.
SecretRequest parse_secret_request(std::string_view spec);

// Parses every --secret and rejects two secrets with the same destination.
std::vector<SecretRequest> parse_secret_requests(const std::vector<std::string>& specs);

// {"name","type","target"} per secret: what `kiln inspect CONTAINER` shows (no values).
nlohmann::json secret_requests_json(const std::vector<SecretRequest>& requests);

}  // namespace kiln::engine
