// KEY=VALUE environment lists (a process's env, an image's Env): later entries replace
// earlier ones of the same KEY, as docker and runc merge them.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace kiln {

// "KEY" of "KEY=VALUE" (the whole entry when it has no '=').
std::string_view env_key(std::string_view entry);
// Replaces the entry with the same key, or appends it.
void set_env(std::vector<std::string>& env, const std::string& entry);

}  // namespace kiln
