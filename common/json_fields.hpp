// Reading fields of untrusted JSON (config.json, state files, image configs) into typed values,
// with one wording for every error: "<field>: <why>", the field spelled as in the document
// ("linux.resources.memory.limit: must be an integer"). A member that is missing or null is
// absent: the spec allows both spellings in practice.
#pragma once
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace kiln::json_fields {

using Json = nlohmann::json;

[[noreturn]] void bad_field(const std::string& field, const std::string& why);
// "where.key" ("key" at the top level) and "field[i]".
std::string member_name(const std::string& where, const char* key);
std::string element_name(const std::string& field, std::size_t i);

const Json* member(const Json& obj, const char* key);
const Json& required_member(const Json& obj, const char* key, const std::string& where);  // "missing"
const Json* object_member(const Json& obj, const char* key, const std::string& where);
const Json* array_member(const Json& obj, const char* key, const std::string& where);

std::string as_string(const Json& v, const std::string& field);
bool as_bool(const Json& v, const std::string& field);
int64_t as_int(const Json& v, const std::string& field);
uint64_t as_uint(const Json& v, const std::string& field, uint64_t max = std::numeric_limits<uint64_t>::max());
template <typename T>
T as_uint_of(const Json& v, const std::string& field) {
  return static_cast<T>(as_uint(v, field, std::numeric_limits<T>::max()));
}

std::optional<std::string> opt_string(const Json& obj, const char* key, const std::string& where);
std::optional<bool> opt_bool(const Json& obj, const char* key, const std::string& where);
std::optional<int64_t> opt_int(const Json& obj, const char* key, const std::string& where);
std::optional<uint64_t> opt_uint(const Json& obj, const char* key, const std::string& where,
                                 uint64_t max = std::numeric_limits<uint64_t>::max());
// An absent list is empty.
std::vector<std::string> string_list(const Json& obj, const char* key, const std::string& where);

}  // namespace kiln::json_fields
