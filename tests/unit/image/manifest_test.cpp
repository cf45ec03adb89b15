#include "image/manifest.hpp"

#include <gtest/gtest.h>

#include "common/error.hpp"
#include "image/image_config.hpp"

using namespace kiln::image;

namespace {

const std::string D1 = "sha256:" + std::string(64, 'a');
const std::string D2 = "sha256:" + std::string(64, 'b');

std::string error_of(auto f) {
  try {
    f();
  } catch (const kiln::Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(Manifest, ParsesOci) {
  auto m = parse_manifest(R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
    "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
                          D1 + R"(","size":7},
    "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":")" +
                          D2 + R"(","size":9}]})");
  EXPECT_EQ(m.config.digest.str(), D1);
  ASSERT_EQ(m.layers.size(), 1u);
  EXPECT_EQ(m.layers[0].size, 9);
}

TEST(Manifest, ErrorsNameTheProblem) {
  EXPECT_EQ(error_of([] { parse_manifest("{not json"); }), "malformed manifest: not valid JSON");
  EXPECT_EQ(error_of([] { parse_manifest("[]"); }), "malformed manifest: not a JSON object");
  EXPECT_EQ(error_of([] { parse_manifest(R"({"schemaVersion":1})"); }), "malformed manifest: schemaVersion is not 2");
  EXPECT_EQ(error_of([] { parse_manifest(R"({"schemaVersion":2,"layers":[]})"); }),
            "malformed manifest: missing \"config\"");
  std::string bad_digest =
      R"({"schemaVersion":2,"config":{"mediaType":"x","digest":"sha256:zz","size":1},"layers":[]})";
  EXPECT_NE(error_of([&] { parse_manifest(bad_digest); }).find("invalid digest \"sha256:zz\""), std::string::npos);
  std::string neg = R"({"schemaVersion":2,"config":{"mediaType":"x","digest":")" + D1 + R"(","size":-1},"layers":[]})";
  EXPECT_NE(error_of([&] { parse_manifest(neg); }).find("no valid \"size\""), std::string::npos);
  std::string badlayer = R"({"schemaVersion":2,"config":{"mediaType":"x","digest":")" + D1 +
                         R"(","size":1},"layers":[{"mediaType":"text/plain","digest":")" + D2 + R"(","size":1}]})";
  EXPECT_NE(error_of([&] { parse_manifest(badlayer); }).find("unsupported mediaType text/plain"), std::string::npos);
}

TEST(Index, PicksPlatform) {
  auto idx = parse_index(R"({"schemaVersion":2,"manifests":[
    {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
                         D1 + R"(","size":1,"platform":{"os":"linux","architecture":"arm64"}},
    {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
                         D2 + R"(","size":1,"platform":{"os":"linux","architecture":"amd64"}}]})");
  auto m = match_platform(idx, parse_platform("linux/amd64"));
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0]->digest.str(), D2);
  EXPECT_TRUE(match_platform(idx, parse_platform("linux/s390x")).empty());
  EXPECT_THROW(parse_platform("linux"), kiln::Error);
  EXPECT_EQ(error_of([] { parse_index(R"({"schemaVersion":2})"); }),
            "malformed index: \"manifests\" is missing or not an array");
}

TEST(ImageConfig, Parses) {
  auto c =
      parse_image_config(R"({"architecture":"amd64","os":"linux","config":{"Entrypoint":["/bin/sh"],"Cmd":["-c","x"],
    "Env":["A=1"],"WorkingDir":"/w","User":"1:2","ExposedPorts":{"80/tcp":{}},"Labels":{"k":"v"},"StopSignal":"SIGINT"},
    "rootfs":{"type":"layers","diff_ids":[")" +
                         D1 + R"("]},"history":[{"created_by":"x","empty_layer":true}]})");
  EXPECT_EQ(c.config.entrypoint, std::vector<std::string>{"/bin/sh"});
  EXPECT_EQ(c.config.cmd.size(), 2u);
  EXPECT_EQ(c.config.exposed_ports, std::vector<std::string>{"80/tcp"});
  EXPECT_EQ(c.config.labels.at("k"), "v");
  EXPECT_EQ(c.config.stop_signal, "SIGINT");
  ASSERT_EQ(c.diff_ids.size(), 1u);
  EXPECT_TRUE(c.history[0].empty_layer);
}

TEST(ImageConfig, ErrorsNameTheField) {
  EXPECT_EQ(error_of([] { parse_image_config("nope"); }), "malformed image config: not valid JSON");
  EXPECT_EQ(error_of([] { parse_image_config("{}"); }), "malformed image config: missing \"rootfs\"");
  EXPECT_EQ(error_of([] { parse_image_config(R"({"rootfs":{"type":"layers","diff_ids":[]},"config":{"Cmd":"ls"}})"); }),
            "malformed image config: \"Cmd\" is not an array");
  EXPECT_NE(
      error_of([] { parse_image_config(R"({"rootfs":{"type":"layers","diff_ids":["md5:x"]}})"); }).find("diff_ids"),
      std::string::npos);
}
