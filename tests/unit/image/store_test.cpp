// Image store bookkeeping without real layers: names, resolve, pins, rmi + gc, rootfs plan.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "common/files.hpp"
#include "image/image_store.hpp"

using namespace kiln;
using namespace kiln::image;

namespace {

struct TempStore {
  std::string dir;
  TempStore() {
    char t[] = "/tmp/kiln-store-test.XXXXXX";
    dir = ::mkdtemp(t);
  }
  ~TempStore() { remove_tree(dir); }
};

// Puts a fake image with `layers` (by diff content) into the store.
ImageRecord add_image(const Store& s, const std::vector<std::string>& layer_contents,
                      const std::vector<std::string>& names) {
  std::vector<Digest> diff_ids;
  for (const auto& c : layer_contents) diff_ids.push_back(sha256_of(c));
  auto chains = chain_ids(diff_ids);
  nlohmann::json cfg = {{"os", "linux"}, {"rootfs", {{"type", "layers"}, {"diff_ids", nlohmann::json::array()}}}};
  for (const auto& d : diff_ids) cfg["rootfs"]["diff_ids"].push_back(d.str());
  std::string cj = cfg.dump();
  ImageRecord r;
  r.id = sha256_of(cj);
  s.put_blob(r.id, cj);
  r.manifest = sha256_of("manifest of " + cj);
  s.put_blob(r.manifest, "manifest of " + cj);
  for (size_t i = 0; i < diff_ids.size(); ++i) {
    LayerRecord l{
        chains[i], diff_ids[i], sha256_of("blob " + layer_contents[i]), "application/vnd.oci.image.layer.v1.tar", 1, 1};
    s.put_blob(l.digest, "blob " + layer_contents[i]);
    if (!s.layer(l.chain_id)) {
      std::string d = s.tmp_dir() + "/l" + l.chain_id.hex;
      mkdir_p(d + "/diff");
      s.commit_layer(l, d);
    }
    r.layers.push_back(l);
  }
  r.names = names;
  s.commit_image(r);
  return r;
}

}  // namespace

TEST(Names, Normalize) {
  EXPECT_EQ(normalize_name("busybox"), "busybox:latest");
  EXPECT_EQ(normalize_name("busybox:1.36"), "busybox:1.36");
  EXPECT_EQ(normalize_name("host:5000/x"), "host:5000/x:latest");
  EXPECT_EQ(normalize_name("docker.io/library/busybox:1"), "busybox:1");
  // found by reference_fuzz: a docker.io path that starts like a host keeps its registry
  EXPECT_EQ(normalize_name("docker.io/index.docker.io/x"), "docker.io/index.docker.io/x:latest");
  EXPECT_EQ(normalize_name(normalize_name("docker.io/index.docker.io/x")), "docker.io/index.docker.io/x:latest");
  EXPECT_THROW(normalize_name("bad name"), Error);
  EXPECT_THROW(normalize_name(""), Error);
}

TEST(Store, ResolveByNameIdAndPrefix) {
  TempStore t;
  Store s(t.dir);
  auto r = add_image(s, {"a", "b"}, {"x/y:1"});
  EXPECT_EQ(s.resolve("x/y:1").record.id, r.id);
  EXPECT_EQ(s.resolve(r.id.str()).record.id, r.id);
  EXPECT_EQ(s.resolve(r.id.hex.substr(0, 8)).record.id, r.id);
  EXPECT_EQ(s.resolve("x/y:1").config.diff_ids.size(), 2u);
  try {
    s.resolve("nope");
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "image nope not found");
  }
  auto dirs = s.layer_dirs(s.resolve("x/y:1"));
  ASSERT_EQ(dirs.size(), 2u);
  EXPECT_EQ(dirs[0], s.layer_path(r.layers[0].chain_id) + "/diff");
}

TEST(Store, NameMovesToNewImage) {
  TempStore t;
  Store s(t.dir);
  auto a = add_image(s, {"a"}, {"n:1", "keep:1"});
  auto b = add_image(s, {"b"}, {"n:1"});
  EXPECT_EQ(s.resolve("n:1").record.id, b.id);
  EXPECT_EQ(s.resolve("keep:1").record.id, a.id);
}

TEST(Store, RmiKeepsSharedLayersAndHonoursPins) {
  TempStore t;
  Store s(t.dir);
  auto a = add_image(s, {"base", "top-a"}, {"a:1"});
  auto b = add_image(s, {"base", "top-b"}, {"b:1"});
  s.pin(a.id, "ctr1");
  EXPECT_EQ(s.pins(a.id), std::vector<std::string>{"ctr1"});
  EXPECT_THROW(s.remove("a:1"), Error);
  s.unpin(a.id, "ctr1");
  auto removed = s.remove("a:1");
  ASSERT_TRUE(removed.deleted);
  EXPECT_TRUE(s.layer(a.layers[0].chain_id));   // shared base stays
  EXPECT_FALSE(s.layer(a.layers[1].chain_id));  // a's own layer goes
  EXPECT_FALSE(s.has_blob(a.id));
  EXPECT_TRUE(s.has_blob(b.id));
  s.remove("b:1");
  EXPECT_FALSE(s.layer(b.layers[0].chain_id));
  EXPECT_THROW(s.pin(b.id, "../x"), Error);
}

// docker's reference grammar: what `kiln load --name`, `kiln import` and archives may name.
TEST(Reference, AcceptsWhatDockerAccepts) {
  EXPECT_EQ(normalize_name("registry.local:5000/team/app-x_y.z__w:v1.2-rc_3"),
            "registry.local:5000/team/app-x_y.z__w:v1.2-rc_3");
  EXPECT_EQ(normalize_name("localhost/app"), "localhost/app:latest");
  EXPECT_EQ(normalize_name("docker.io/team/app"), "team/app:latest");
  std::string digest = "sha256:" + std::string(64, 'a');
  EXPECT_EQ(normalize_name("app@" + digest), "app@" + digest);
  EXPECT_EQ(normalize_name("app:1@" + digest), "app:1@" + digest);
  EXPECT_EQ(parse_reference("a:" + std::string(128, 't')).tag.size(), 128u);
}

TEST(Reference, RefusesWhatDockerRefuses) {
  for (const std::string& bad : std::vector<std::string>{"../../../../tmp/x/tag:latest",
                                                         "evil:../../x",
                                                         "a/../b",
                                                         "UPPER/case",
                                                         "app:",
                                                         ":tag",
                                                         "/app",
                                                         "app/",
                                                         "a//b",
                                                         "app:-tag",
                                                         "app@sha256:abc",
                                                         "app@sha256:" + std::string(63, 'a'),
                                                         "-app",
                                                         "app-",
                                                         "a..b",
                                                         "a___b",
                                                         "host:port/x",
                                                         "h_st.io/x",
                                                         "app:t@g",
                                                         "app name",
                                                         "app\n",
                                                         std::string(5000, 'a'),
                                                         "a:" + std::string(129, 't'),
                                                         std::string("a\0b", 3)}) {
    try {
      normalize_name(bad);
      ADD_FAILURE() << "accepted [" << bad.substr(0, 60) << "]";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("invalid image name"), std::string::npos) << e.what();
      EXPECT_LT(std::string(e.what()).size(), 300u) << "the error repeats a 5000-character name";
    }
  }
}
