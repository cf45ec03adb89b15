#include "image/registry_push.hpp"

#include <gtest/gtest.h>

#include "common/error.hpp"
#include "image/registry_client.hpp"

namespace img = kiln::image;

TEST(RegistryPush, UploadLocationsStayOnTheRegistry) {
  const std::string base = "http://127.0.0.1:5000";
  EXPECT_EQ(img::resolve_upload_location(base, "/v2/a/blobs/uploads/u1?_state=x"),
            "http://127.0.0.1:5000/v2/a/blobs/uploads/u1?_state=x");
  EXPECT_EQ(img::resolve_upload_location(base, "http://127.0.0.1:5000/v2/a/blobs/uploads/u1"),
            "http://127.0.0.1:5000/v2/a/blobs/uploads/u1");
  // another host, another scheme, a host-relative URL or a look-alike host: our token would go there
  for (const char* bad :
       {"http://evil:5000/v2/a", "https://127.0.0.1:5000/v2/a", "//evil/v2/a", "http://127.0.0.1:50000/v2/a",
        "http://127.0.0.1:5000.evil/v2/a", "v2/a", "", "/v2/a b", "/v2/a\r\nX-Injected: 1"})
    EXPECT_THROW(img::resolve_upload_location(base, bad), kiln::Error) << bad;
}

TEST(RegistryPush, QueryValuesAreEscaped) {
  EXPECT_EQ(img::with_query("http://h/v2/a/blobs/uploads/", "from", "team/app"),
            "http://h/v2/a/blobs/uploads/?from=team%2Fapp");
  EXPECT_EQ(img::with_query("http://h/u?_state=x", "digest", "sha256:ab"), "http://h/u?_state=x&digest=sha256%3Aab");
}

TEST(RegistryPush, MountSourcesAreOtherReposOfTheSameRegistry) {
  std::vector<std::string> names = {"127.0.0.1:5000/team/app:1",
                                    "127.0.0.1:5000/team/app:2",
                                    "127.0.0.1:5000/base/os:3",
                                    "127.0.0.1:6000/other/x:1",
                                    "local:multi",
                                    "busybox:latest"};
  EXPECT_EQ(img::mount_sources(names, "127.0.0.1:5000", "new/repo"), (std::vector<std::string>{"team/app", "base/os"}));
  EXPECT_EQ(img::mount_sources(names, "127.0.0.1:5000", "team/app"), (std::vector<std::string>{"base/os"}));
  EXPECT_TRUE(img::mount_sources(names, "registry.example", "x").empty());
}
