// --secret parsing: defaults, every option, and errors that name the bad option.
#include <gtest/gtest.h>

#include "common/error.hpp"
#include "engine/secret_request.hpp"

using namespace kiln;
using namespace kiln::engine;

namespace {

std::string error_of(const std::string& spec) {
  try {
    parse_secret_request(spec);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(SecretRequest, Defaults) {
  auto r = parse_secret_request("db");
  EXPECT_EQ(r.name, "db");
  EXPECT_EQ(r.type, SecretRequest::Type::mount);
  EXPECT_EQ(r.target, "db");
  EXPECT_EQ(r.mode, 0400u);
  EXPECT_FALSE(r.uid);
  EXPECT_FALSE(r.gid);
  EXPECT_EQ(r.where(), "/run/secrets/db");
}

TEST(SecretRequest, AllOptions) {
  auto r = parse_secret_request("db,type=mount,target=pw.txt,mode=0440,uid=1000,gid=2000");
  EXPECT_EQ(r.target, "pw.txt");
  EXPECT_EQ(r.mode, 0440u);
  EXPECT_EQ(*r.uid, 1000u);
  EXPECT_EQ(*r.gid, 2000u);
  auto e = parse_secret_request("source=api,type=env,target=API_TOKEN");
  EXPECT_EQ(e.name, "api");
  EXPECT_EQ(e.type, SecretRequest::Type::env);
  EXPECT_EQ(e.where(), "$API_TOKEN");
  EXPECT_EQ(parse_secret_request("TOKEN,type=env").target, "TOKEN");
}

TEST(SecretRequest, Errors) {
  EXPECT_EQ(error_of("db,type=foo"), "--secret db,type=foo: type must be env or mount");
  EXPECT_EQ(error_of(""), "--secret : missing secret name");
  EXPECT_EQ(error_of("../x"), "--secret ../x: invalid secret name \"../x\"");
  EXPECT_EQ(error_of("db,mode=999"), "--secret db,mode=999: mode must be octal permission bits like 0400");
  EXPECT_EQ(error_of("db,uid=abc"), "--secret db,uid=abc: uid must be a number");
  EXPECT_EQ(error_of("db,gid=-1"), "--secret db,gid=-1: gid must be a number");
  EXPECT_EQ(error_of("db,color=red"),
            "--secret db,color=red: unknown option \"color\" (use type, target, mode, uid, gid)");
  EXPECT_EQ(error_of("db,type"), "--secret db,type: option \"type\" needs a value (KEY=VALUE)");
  EXPECT_EQ(error_of("db,target=../../etc/passwd"),
            "--secret db,target=../../etc/passwd: target \"../../etc/passwd\" must be a plain file name (letters, "
            "digits, '_', '.', '-')");
  EXPECT_EQ(error_of("db.pw,type=env"),
            "--secret db.pw,type=env: \"db.pw\" is not a valid environment variable name (set target=NAME)");
  EXPECT_EQ(error_of("db,type=env,mode=0400"),
            "--secret db,type=env,mode=0400: mode, uid and gid only apply to type=mount");
  EXPECT_EQ(error_of("db,target="), "--secret db,target=: target is empty");
}

TEST(SecretRequest, DuplicateDestinations) {
  EXPECT_NO_THROW(parse_secret_requests({"a", "b", "a,type=env"}));
  EXPECT_THROW(parse_secret_requests({"a", "b,target=a"}), Error);
  EXPECT_THROW(parse_secret_requests({"a,type=env,target=X", "b,type=env,target=X"}), Error);
}

TEST(SecretRequest, JsonHasNoValues) {
  auto j = secret_requests_json(parse_secret_requests({"a", "b,type=env,target=B"}));
  EXPECT_EQ(j.dump(),
            R"([{"name":"a","target":"/run/secrets/a","type":"mount"},{"name":"b","target":"$B","type":"env"}])");
}
