// Pitfalls in built layers (engine/build_layer_check.hpp), on plain directories laid out as
// the store keeps layers (whiteouts are 0/0 character devices: needs CAP_MKNOD, else skipped).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <string>

#include "common/files.hpp"
#include "engine/build_layer_check.hpp"

namespace kiln::engine {
namespace {

struct Layers {
  std::string root;
  std::vector<BuiltLayer> layers;
  Layers() {
    char t[] = "/tmp/kiln-layer-check.XXXXXX";
    root = ::mkdtemp(t);
  }
  ~Layers() { remove_tree(root); }
  // A layer made by the step at line `line` (0: a base image's layer).
  std::string add(int line, const std::string& keyword = "RUN") {
    std::string d = root + "/" + std::to_string(layers.size());
    mkdir_p(d);
    layers.push_back({d, line ? "Dockerfile:" + std::to_string(line) + ": " + keyword : "", keyword, line});
    return d;
  }
  static void put(const std::string& dir, const std::string& rel, const std::string& content) {
    auto slash = rel.rfind('/');
    if (slash != std::string::npos) mkdir_p(dir + "/" + rel.substr(0, slash));
    write_file(dir + "/" + rel, content);
  }
  // False when this process may not make whiteouts.
  static bool whiteout(const std::string& dir, const std::string& rel) {
    auto slash = rel.rfind('/');
    if (slash != std::string::npos) mkdir_p(dir + "/" + rel.substr(0, slash));
    return ::mknod((dir + "/" + rel).c_str(), S_IFCHR | 0000, makedev(0, 0)) == 0;
  }
};

std::vector<std::string> rules(const std::vector<BuildFinding>& fs) {
  std::vector<std::string> out;
  for (const auto& f : fs) out.push_back(std::to_string(f.line) + " " + f.rule + " " + f.path);
  return out;
}

using V = std::vector<std::string>;
const char* kPem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow==\n-----END RSA PRIVATE KEY-----\n";

TEST(BuildLayerCheck, SecretsByTheStepThatMadeThem) {
  Layers l;
  Layers::put(l.add(0), "root/.ssh/id_rsa", kPem);  // the base image's: kiln scan's business
  Layers::put(l.add(3, "COPY"), "app/.env", "DB_PASSWORD=x\n");
  Layers::put(l.add(4), "etc/ssl/private/server.pem", kPem);
  auto f = check_layers(l.layers);
  EXPECT_EQ(rules(f), (V{"3 secret-copied /app/.env", "4 secret-in-layer /etc/ssl/private/server.pem"}));
  for (const auto& x : f) EXPECT_EQ(describe(x).find("BEGIN"), std::string::npos);
}

TEST(BuildLayerCheck, SecretWrittenThenDeletedNamesBothSteps) {
  Layers l;
  Layers::put(l.add(2), "root/.npmrc", "//registry.npmjs.org/:_authToken=abc\n");
  Layers::put(l.layers.back().dir, "app/index.js", "1");
  std::string later = l.add(3);
  if (!Layers::whiteout(later, "root/.npmrc")) GTEST_SKIP() << "no CAP_MKNOD";
  auto f = check_layers(l.layers);
  ASSERT_EQ(rules(f), (V{"2 secret-deleted-later /root/.npmrc"}));
  EXPECT_NE(f[0].message.find("Dockerfile:3: RUN"), std::string::npos);
  EXPECT_EQ(describe(f[0]).find("abc"), std::string::npos);
}

TEST(BuildLayerCheck, AddedThenDeletedAndCaches) {
  Layers l;
  std::string a = l.add(2);
  Layers::put(a, "tmp/src.tar", std::string(5000, 'x'));
  Layers::put(a, "var/lib/apt/lists/deb.debian.org_dists_bookworm_InRelease", std::string(3000, 'y'));
  Layers::put(a, "var/lib/apt/lists/lock", "");
  Layers::put(a, "root/.cache/pip/http/abc", std::string(100, 'z'));
  std::string b = l.add(3);
  if (!Layers::whiteout(b, "tmp/src.tar")) GTEST_SKIP() << "no CAP_MKNOD";
  Layers::whiteout(b, "root/.cache");
  auto f = check_layers(l.layers);
  EXPECT_EQ(rules(f), (V{"2 deleted-later /root/.cache", "2 package-cache /var/lib/apt/lists"}));
  EXPECT_NE(f[0].message.find("/tmp/src.tar"), std::string::npos);
  EXPECT_NE(f[0].message.find("5.1kB"), std::string::npos);
  EXPECT_NE(f[1].message.find("3kB"), std::string::npos);
}

TEST(BuildLayerCheck, OpaqueDirectoryHidesWhatIsBelow) {
  Layers l;
  Layers::put(l.add(2), "build/obj/a.o", std::string(2000, 'x'));
  std::string b = l.add(3);
  mkdir_p(b + "/build");
  if (::lsetxattr((b + "/build").c_str(), "trusted.overlay.opaque", "y", 1, 0) != 0)
    GTEST_SKIP() << "no trusted xattrs";
  EXPECT_EQ(rules(check_layers(l.layers)), (V{"2 deleted-later /build/*"}));
}

TEST(BuildLayerCheck, CleanLayersHaveNoFindings) {
  Layers l;
  Layers::put(l.add(0), "bin/sh", "x");
  Layers::put(l.add(2, "COPY"), "app/main.py", "print(1)\n");
  Layers::put(l.add(3), "var/lib/apt/lists/lock", "");
  mkdir_p(l.layers.back().dir + "/var/lib/apt/lists/partial");
  Layers::put(l.add(4), "usr/local/bin/app", std::string(100, 'a'));
  EXPECT_TRUE(check_layers(l.layers).empty());
}

TEST(BuildLayerCheck, HostileTreesDoNotFailTheBuild) {
  Layers l;
  std::string a = l.add(2);
  std::string made = a;  // as deep as a path can name
  for (int i = 0; i < 300 && ::mkdir((made + "/dddddddddddddddddd").c_str(), 0755) == 0 && made.size() < 3900; ++i)
    made += "/dddddddddddddddddd";
  ASSERT_EQ(::symlink("/etc", (a + "/etc-link").c_str()), 0);  // never followed
  ASSERT_EQ(::symlink("/root/.ssh/id_rsa", (a + "/id_rsa").c_str()), 0);
  EXPECT_NO_THROW(check_layers(l.layers));
}

}  // namespace
}  // namespace kiln::engine
