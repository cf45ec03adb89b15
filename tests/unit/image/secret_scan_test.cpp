// The secret scanner on plain directories (a layer dir is just that) and on Env lists.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "common/files.hpp"
#include "image/secret_scan.hpp"

using namespace kiln;
using namespace kiln::image;

namespace {

struct ScanDir {
  std::string dir;
  ScanDir() {
    char t[] = "/tmp/kiln-scan-test.XXXXXX";
    dir = ::mkdtemp(t);
  }
  ~ScanDir() { remove_tree(dir); }
  void put(const std::string& rel, const std::string& content) {
    auto slash = rel.rfind('/');
    if (slash != std::string::npos) mkdir_p(dir + "/" + rel.substr(0, slash));
    write_file(dir + "/" + rel, content);
  }
};

const char* kPem =
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAAC=\n-----END OPENSSH PRIVATE KEY-----\n";

std::vector<std::string> kinds_and_paths(const std::vector<SecretFinding>& fs) {
  std::vector<std::string> out;
  for (const auto& f : fs) out.push_back(f.path + " " + f.kind);
  return out;
}

}  // namespace

TEST(SecretScan, CredentialNames) {
  for (const char* n :
       {"DB_PASSWORD", "MYSQL_ROOT_PASSWORD", "PASSWD", "api_key", "AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN",
        "STRIPE_KEY", "GOOGLE_APPLICATION_CREDENTIALS", "PRIVATE_KEY", "SECRET", "DB_PASS"})
    EXPECT_TRUE(credential_like_name(n)) << n;
  for (const char* n :
       {"PATH", "HOME", "POSTGRES_PASSWORD_FILE", "GPG_KEY", "PUBLIC_KEY", "LANG", "KEYBOARD", "TOKEN_DIR"})
    EXPECT_FALSE(credential_like_name(n)) << n;
}

TEST(SecretScan, Env) {
  auto f = scan_env({"PATH=/bin", "DB_PASSWORD=x", "EMPTY_TOKEN=", "API_KEY=abc", "GPG_KEY=ABCDEF"});
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(describe(f[0]), "config Env DB_PASSWORD: env");
  EXPECT_EQ(f[1].path, "Env API_KEY");
}

TEST(SecretScan, LayerFiles) {
  ScanDir t;
  t.put("root/.ssh/id_rsa", "anything");
  t.put("root/.ssh/id_rsa.pub", "ssh-rsa AAAA");
  t.put("root/.aws/credentials", "[default]\naws_secret_access_key=zzz\n");
  t.put("srv/app/key.pem", std::string("junk\n") + kPem);
  t.put("etc/ssl/certs/ca.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
  t.put("app/.env", "# config\nDEBUG=1\nDB_PASSWORD=hunter2\n");
  t.put("app/.env.example", "DB_PASSWORD=\nDEBUG=1\n");
  t.put("home/u/.npmrc", "//registry.npmjs.org/:_authToken=npm_abc\n");
  t.put("home/v/.npmrc", "registry=https://example.org\n");
  t.put("home/u/.pypirc", "[pypi]\nusername=__token__\npassword=pypi-xyz\n");
  t.put("home/u/.git-credentials", "https://u:p@github.com\n");
  t.put("home/u/.docker/config.json", R"({"auths":{"r.io":{"auth":"dTpw"}}})");
  t.put("home/v/.docker/config.json", R"({"auths":{},"credsStore":"pass"})");
  t.put("big.pem", std::string(300 * 1024, 'a') + kPem);                    // large files are streamed, not skipped
  ASSERT_EQ(::symlink("/etc/shadow", (t.dir + "/id_ed25519").c_str()), 0);  // a link is never followed
  ASSERT_EQ(::mknod((t.dir + "/.wh-char").c_str(), S_IFCHR | 0600, makedev(0, 0)), 0);  // overlay whiteout
  auto found = kinds_and_paths(scan_layer_dir(t.dir));
  std::vector<std::string> want = {
      "/app/.env dotenv",
      "/big.pem private-key",
      "/home/u/.docker/config.json docker-auth",
      "/home/u/.git-credentials git-credentials",
      "/home/u/.npmrc npm-token",
      "/home/u/.pypirc pypi-password",
      "/root/.aws/credentials aws-credentials",
      "/root/.ssh/id_rsa ssh-private-key",
      "/srv/app/key.pem private-key",
  };
  EXPECT_EQ(found, want);
}

TEST(SecretScan, CleanDirectory) {
  ScanDir t;
  t.put("bin/sh",
        "\x7f"
        "ELF");
  t.put("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
  EXPECT_TRUE(scan_layer_dir(t.dir).empty());
}

TEST(SecretScan, JsonNeverHoldsValues) {
  ScanDir t;
  t.put("app/.env", "DB_PASSWORD=hunter2\n");
  auto f = scan_layer_dir(t.dir);
  auto e = scan_env({"API_TOKEN=hunter3"});
  f.insert(f.end(), e.begin(), e.end());
  std::string text = findings_json(f).dump();
  EXPECT_EQ(text.find("hunter"), std::string::npos) << text;
}

// Evasions that sampling missed: a key more than 128 directories deep (here deeper than
// PATH_MAX allows as one path), a key file over 256 KiB, a key after the first 16 KiB.
TEST(SecretScan, NoDepthOrSizeOrOffsetLimit) {
  ScanDir t;
  {
    UniqueFd d = open_file(t.dir, O_RDONLY | O_DIRECTORY);
    for (int i = 0; i < 3000; ++i) {
      ASSERT_EQ(::mkdirat(d.get(), "d", 0755), 0);
      d = UniqueFd(::openat(d.get(), "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      ASSERT_TRUE(d);
    }
    UniqueFd f(::openat(d.get(), "deep.pem", O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
    ASSERT_TRUE(f);
    write_all(f.get(), kPem, "deep key");
  }
  t.put("big/padded.pem", std::string(300 * 1024, 'x') + "\n" + kPem);
  t.put("late/notes.txt", std::string(20 * 1024, '#') + "\n" + kPem + std::string(10, 'y'));
  // A header split across the scanner's 64 KiB reads.
  t.put("split/key", std::string(64 * 1024 - 7, '.') + kPem);
  t.put("env/.env", std::string(100 * 1024, '\n') + "DB_PASSWORD=hunter2\n");
  auto found = kinds_and_paths(scan_layer_dir(t.dir));
  std::string deep;
  for (int i = 0; i < 3000; ++i) deep += "/d";
  auto has = [&](const std::string& s) { return std::find(found.begin(), found.end(), s) != found.end(); };
  EXPECT_TRUE(has(deep + "/deep.pem private-key"));
  EXPECT_TRUE(has("/big/padded.pem private-key"));
  EXPECT_TRUE(has("/late/notes.txt private-key"));
  EXPECT_TRUE(has("/split/key private-key"));
  EXPECT_TRUE(has("/env/.env dotenv"));
  EXPECT_EQ(found.size(), 5u);
  std::system(("rm -rf " + t.dir + "/d").c_str());
}
