#include "image/registry_auth.hpp"

#include <gtest/gtest.h>

#include "common/error.hpp"
#include "image/registry_pull.hpp"

namespace img = kiln::image;

TEST(RegistryAuth, ParsesBearerAndBasicChallenges) {
  auto c = img::parse_auth_challenge(
      R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull")");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->scheme, "bearer");
  EXPECT_EQ(c->params["realm"], "https://auth.docker.io/token");
  EXPECT_EQ(c->params["service"], "registry.docker.io");
  EXPECT_EQ(c->params["scope"], "repository:library/busybox:pull");
  auto b = img::parse_auth_challenge(R"(Basic realm="Registry \"Realm\"")");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->scheme, "basic");
  EXPECT_EQ(b->params["realm"], "Registry \"Realm\"");
}

TEST(RegistryAuth, RefusesBrokenChallenges) {
  for (const char* bad : {"", "   ", "Bearer realm=\"unterminated", "Bearer =x", "Bearer realm=\"a\" junk", "\"x\""})
    EXPECT_FALSE(img::parse_auth_challenge(bad)) << bad;
  EXPECT_FALSE(img::parse_auth_challenge("Bearer realm=\"" + std::string(9000, 'a') + "\""));
}

TEST(RegistryAuth, CredentialsFromAuthJsonNeverInErrors) {
  // "user:s3cret" and docker's URL-style key
  auto c = img::credentials_from_auth_json(R"({"auths":{"https://reg.local:5000/v1/":{"auth":"dXNlcjpzM2NyZXQ="}}})",
                                           "reg.local:5000", "f.json");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->username, "user");
  EXPECT_EQ(c->password, "s3cret");
  EXPECT_FALSE(img::credentials_from_auth_json(R"({"auths":{}})", "reg.local:5000", "f.json"));
  try {
    img::credentials_from_auth_json(R"({"auths":{"reg.local:5000":{"auth":"bm9jb2xvbnMzY3JldA=="}}})", "reg.local:5000",
                                    "f.json");
    FAIL() << "an auth without a colon was accepted";
  } catch (const kiln::Error& e) {
    EXPECT_EQ(std::string(e.what()).find("nocolons3cret"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("f.json"), std::string::npos) << e.what();
  }
  EXPECT_THROW(img::credentials_from_auth_json("not json", "h", "f.json"), kiln::Error);
}

TEST(RegistriesConf, UnqualifiedSearchRegistries) {
  EXPECT_EQ(img::unqualified_search_registries("unqualified-search-registries = [\"a.io\", \"127.0.0.1:5000\"]\n"),
            (std::vector<std::string>{"a.io", "127.0.0.1:5000"}));
  EXPECT_TRUE(img::unqualified_search_registries("# unqualified-search-registries = [\"docker.io\"]\n").empty());
  EXPECT_TRUE(img::unqualified_search_registries("").empty());
  EXPECT_THROW(img::unqualified_search_registries("unqualified-search-registries = ["), kiln::Error);
}
