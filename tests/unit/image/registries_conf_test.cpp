#include "image/registries_conf.hpp"

#include <gtest/gtest.h>

#include "common/error.hpp"

namespace img = kiln::image;

namespace {

const char* kConf = R"(
unqualified-search-registries = ["127.0.0.1:5000"]

[[registry]]
location = "127.0.0.1:5000"
insecure = true

[[registry]]
prefix = "example.com/team"
location = "127.0.0.1:5001/mirror/team"

[[registry]]
location = "example.com"
blocked = true

[[registry]]
prefix = "*.bad.test"
blocked = true
)";

}  // namespace

TEST(RegistriesConfTables, LocationInsecureBlocked) {
  img::RegistriesConf c = img::parse_registries_conf(kConf, "r.conf");
  EXPECT_EQ(c.unqualified_search, (std::vector<std::string>{"127.0.0.1:5000"}));
  ASSERT_EQ(c.registries.size(), 4u);
  img::RegistryRoute r = img::route_for(c, "127.0.0.1:5000/app", "r.conf");
  EXPECT_EQ(r.name, "127.0.0.1:5000/app");
  EXPECT_TRUE(r.insecure);
  // the longest prefix wins, at a '/' boundary, and its location replaces the prefix
  r = img::route_for(c, "example.com/team/app", "r.conf");
  EXPECT_EQ(r.name, "127.0.0.1:5001/mirror/team/app");
  EXPECT_FALSE(r.insecure);
  EXPECT_THROW(img::route_for(c, "example.com/teamx/app", "r.conf"), kiln::Error);
  EXPECT_THROW(img::route_for(c, "example.com/other", "r.conf"), kiln::Error);
  EXPECT_THROW(img::route_for(c, "reg.bad.test/x", "r.conf"), kiln::Error);
  EXPECT_EQ(img::route_for(c, "bad.test/x", "r.conf").name, "bad.test/x");  // "*." is below, not at
  EXPECT_EQ(img::route_for(c, "127.0.0.10/x", "r.conf").name, "127.0.0.10/x");
  EXPECT_FALSE(img::route_for(c, "127.0.0.10/x", "r.conf").insecure);
}

TEST(RegistriesConfTables, MalformedFilesAreErrorsNamingTheFile) {
  for (const char* bad : {"[[registry]]\ninsecure = \"yes\"\n", "[[registry]]\nlocation = 5\n", "registry = 1\n",
                          "unqualified-search-registries = [1, 2]\n", "[[registry]]\n",
                          "a = [[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]\n", "= x\n"}) {
    try {
      img::parse_registries_conf(bad, "bad.conf");
      ADD_FAILURE() << bad;
    } catch (const kiln::Error& e) {
      EXPECT_NE(std::string(e.what()).find("registries.conf bad.conf: "), std::string::npos) << e.what();
    }
  }
  EXPECT_TRUE(img::parse_registries_conf("# nothing\n", "f").registries.empty());
}
