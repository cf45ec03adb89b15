#include "common/json_fields.hpp"

#include <gtest/gtest.h>

#include "common/error.hpp"

namespace kiln::json_fields {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(JsonFields, AbsentMeansMissingOrNull) {
  Json j = Json::parse(R"({"a": null, "b": 1})");
  EXPECT_EQ(member(j, "a"), nullptr);
  EXPECT_EQ(member(j, "zz"), nullptr);
  ASSERT_NE(member(j, "b"), nullptr);
  EXPECT_EQ(member(Json::array(), "b"), nullptr);
  EXPECT_FALSE(opt_int(j, "a", "x"));
  EXPECT_EQ(error_of([&] { required_member(j, "a", "top"); }), "top.a: missing");
  EXPECT_EQ(error_of([&] { required_member(j, "a", ""); }), "a: missing");
}

TEST(JsonFields, IntegersNameTheFieldAndTheRule) {
  Json j = Json::parse(R"({"neg": -1, "big": 18446744073709551615, "f": 1.5, "s": "1", "ok": 7})");
  EXPECT_EQ(*opt_uint(j, "ok", "w"), 7u);
  EXPECT_EQ(error_of([&] { opt_uint(j, "neg", "w"); }), "w.neg: must not be negative");
  EXPECT_EQ(error_of([&] { opt_uint(j, "f", "w"); }), "w.f: must be an integer");
  EXPECT_EQ(error_of([&] { opt_uint(j, "s", "w"); }), "w.s: must be an integer");
  EXPECT_EQ(error_of([&] { opt_uint(j, "ok", "w", 5); }), "w.ok: must be at most 5");
  EXPECT_EQ(error_of([&] { opt_int(j, "big", "w"); }), "w.big: out of range");
  EXPECT_EQ(*opt_uint(j, "big", "w"), 18446744073709551615u);
  EXPECT_EQ(error_of([&] { as_uint_of<uint32_t>(j["big"], "w.big"); }), "w.big: must be at most 4294967295");
  // Built in code (signed storage) reads the same as parsed text (unsigned storage).
  Json built;
  built["n"] = int64_t{7};
  EXPECT_EQ(*opt_uint(built, "n", ""), 7u);
}

TEST(JsonFields, StringsBoolsAndLists) {
  Json j = Json::parse(R"({"s": "x", "b": true, "n": 1, "l": ["a", "b"], "bad": ["a", 2], "o": 3})");
  EXPECT_EQ(*opt_string(j, "s", ""), "x");
  EXPECT_TRUE(*opt_bool(j, "b", ""));
  EXPECT_EQ(error_of([&] { opt_bool(j, "n", "p"); }), "p.n: must be true or false");
  EXPECT_EQ(error_of([&] { opt_string(j, "n", "p"); }), "p.n: must be a string");
  EXPECT_EQ(string_list(j, "l", ""), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(string_list(j, "none", "").empty());
  EXPECT_EQ(error_of([&] { string_list(j, "bad", "p"); }), "p.bad[1]: must be a string");
  EXPECT_EQ(error_of([&] { string_list(j, "s", "p"); }), "p.s: must be an array of strings");
  EXPECT_EQ(error_of([&] { object_member(j, "o", "p"); }), "p.o: must be an object");
  EXPECT_EQ(error_of([&] { array_member(j, "o", "p"); }), "p.o: must be an array");
}

}  // namespace
}  // namespace kiln::json_fields
