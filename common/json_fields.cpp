#include "common/json_fields.hpp"

#include "common/error.hpp"

namespace kiln::json_fields {

void bad_field(const std::string& field, const std::string& why) { throw Error(field + ": " + why); }

std::string member_name(const std::string& where, const char* key) {
  return where.empty() ? std::string(key) : where + "." + key;
}

std::string element_name(const std::string& field, std::size_t i) { return field + "[" + std::to_string(i) + "]"; }

const Json* member(const Json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

const Json& required_member(const Json& obj, const char* key, const std::string& where) {
  const Json* v = member(obj, key);
  if (!v) bad_field(member_name(where, key), "missing");
  return *v;
}

const Json* object_member(const Json& obj, const char* key, const std::string& where) {
  const Json* v = member(obj, key);
  if (v && !v->is_object()) bad_field(member_name(where, key), "must be an object");
  return v;
}

const Json* array_member(const Json& obj, const char* key, const std::string& where) {
  const Json* v = member(obj, key);
  if (v && !v->is_array()) bad_field(member_name(where, key), "must be an array");
  return v;
}

std::string as_string(const Json& v, const std::string& field) {
  if (!v.is_string()) bad_field(field, "must be a string");
  return v.get<std::string>();
}

bool as_bool(const Json& v, const std::string& field) {
  if (!v.is_boolean()) bad_field(field, "must be true or false");
  return v.get<bool>();
}

int64_t as_int(const Json& v, const std::string& field) {
  if (!v.is_number_integer()) bad_field(field, "must be an integer");
  if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    bad_field(field, "out of range");
  return v.get<int64_t>();
}

uint64_t as_uint(const Json& v, const std::string& field, uint64_t max) {
  // Parsed text gives unsigned numbers, but JSON built in code holds signed ones: accept both.
  if (!v.is_number_integer()) bad_field(field, "must be an integer");
  if (!v.is_number_unsigned() && v.get<int64_t>() < 0) bad_field(field, "must not be negative");
  uint64_t n = v.get<uint64_t>();
  if (n > max) bad_field(field, "must be at most " + std::to_string(max));
  return n;
}

std::optional<std::string> opt_string(const Json& obj, const char* key, const std::string& where) {
  const Json* v = member(obj, key);
  if (!v) return std::nullopt;
  return as_string(*v, member_name(where, key));
}

std::optional<bool> opt_bool(const Json& obj, const char* key, const std::string& where) {
  const Json* v = member(obj, key);
  if (!v) return std::nullopt;
  return as_bool(*v, member_name(where, key));
}

std::optional<int64_t> opt_int(const Json& obj, const char* key, const std::string& where) {
  const Json* v = member(obj, key);
  if (!v) return std::nullopt;
  return as_int(*v, member_name(where, key));
}

std::optional<uint64_t> opt_uint(const Json& obj, const char* key, const std::string& where, uint64_t max) {
  const Json* v = member(obj, key);
  if (!v) return std::nullopt;
  return as_uint(*v, member_name(where, key), max);
}

std::vector<std::string> string_list(const Json& obj, const char* key, const std::string& where) {
  std::vector<std::string> out;
  const Json* v = member(obj, key);
  if (!v) return out;
  std::string field = member_name(where, key);
  if (!v->is_array()) bad_field(field, "must be an array of strings");
  for (std::size_t i = 0; i < v->size(); ++i) out.push_back(as_string((*v)[i], element_name(field, i)));
  return out;
}

}  // namespace kiln::json_fields
