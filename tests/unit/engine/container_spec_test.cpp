// The `kiln run` spec generator: pure data in, JSON out.
#include <gtest/gtest.h>

#include <sys/resource.h>

#include <algorithm>

#include "common/error.hpp"
#include "engine/records.hpp"
#include "engine/etc_files.hpp"
#include "engine/container_spec.hpp"

namespace rt = kiln::engine;

namespace {

const char* lookup(const char* key) { return std::string(key) == "FROM_ENV" ? "v" : nullptr; }

rt::SpecInputs inputs() {
  rt::SpecInputs in;
  in.id = std::string(64, 'a');
  in.rootfs = "/store/containers/x/merged";
  in.image.entrypoint = {"/bin/entry"};
  in.image.cmd = {"default"};
  in.image.env = {"PATH=/img/bin", "A=1"};
  in.nofile_hard_limit = 20000;
  return in;
}

}  // namespace

TEST(RunSpec, Ulimits) {
  auto u = rt::parse_ulimit("nofile=1024:2048");
  EXPECT_EQ(u.type, "RLIMIT_NOFILE");
  EXPECT_EQ(u.soft, 1024u);
  EXPECT_EQ(u.hard, 2048u);
  EXPECT_EQ(rt::parse_ulimit("core=-1").hard, RLIM_INFINITY);
  EXPECT_EQ(rt::parse_ulimit("core=0").soft, 0u);
  for (const char* bad : {"core", "bogus=1", "nofile=2:1", "nofile=x", "nofile=-5", "nofile="})
    EXPECT_THROW(rt::parse_ulimit(bad), kiln::Error) << bad;
  rt::SpecInputs in = inputs();
  in.flags.ulimits = {rt::parse_ulimit("nofile=10:20"), rt::parse_ulimit("core=1")};
  auto spec = rt::build_run_spec(in);
  EXPECT_EQ(spec["process"]["rlimits"].dump(),
            R"([{"hard":20,"soft":10,"type":"RLIMIT_NOFILE"},{"hard":1,"soft":1,"type":"RLIMIT_CORE"}])");
}

TEST(RunSpec, ParsesMemoryCpusVolumes) {
  EXPECT_EQ(rt::parse_memory("64m"), 64 << 20);
  EXPECT_EQ(rt::parse_memory("1g"), int64_t{1} << 30);
  EXPECT_EQ(rt::parse_memory("8192k"), 8192 << 10);
  EXPECT_THROW(rt::parse_memory("12q"), kiln::Error);
  EXPECT_THROW(rt::parse_memory("1k"), kiln::Error);  // below 6m
  EXPECT_DOUBLE_EQ(rt::parse_cpus("1.5"), 1.5);
  EXPECT_THROW(rt::parse_cpus("x"), kiln::Error);
  auto v = rt::parse_volume("/h:/c:ro");
  EXPECT_EQ(v.host, "/h");
  EXPECT_EQ(v.container, "/c");
  EXPECT_TRUE(v.read_only);
  EXPECT_THROW(rt::parse_volume("h:/c"), kiln::Error);
  EXPECT_THROW(rt::parse_volume("/h:/c:xx"), kiln::Error);
}

TEST(RunSpec, EnvFileAndErrorsNeverQuoteValues) {
  auto env = rt::parse_env_file_text("# comment\n\nA=1\n  B=two words\nFROM_ENV\nMISSING\n", "f", lookup);
  EXPECT_EQ(env, (std::vector<std::string>{"A=1", "B=two words", "FROM_ENV=v"}));
  try {
    rt::parse_env_file_text("=secretvalue\n", "f", lookup);
    FAIL();
  } catch (const kiln::Error& e) {
    EXPECT_EQ(std::string(e.what()).find("secretvalue"), std::string::npos);
  }
}

TEST(RunSpec, ArgsEnvAndSafeDefaults) {
  auto in = inputs();
  in.flags.env = {"A=2", "B=3"};
  auto spec = rt::build_run_spec(in);
  EXPECT_EQ(spec["process"]["args"], nlohmann::json({"/bin/entry", "default"}));
  auto env = spec["process"]["env"].get<std::vector<std::string>>();
  EXPECT_EQ(env.front(), "PATH=/img/bin");
  EXPECT_NE(std::find(env.begin(), env.end(), "A=2"), env.end());
  EXPECT_EQ(std::find(env.begin(), env.end(), "A=1"), env.end());
  EXPECT_TRUE(spec["process"]["noNewPrivileges"].get<bool>());
  EXPECT_EQ(spec["process"]["rlimits"][0]["hard"], 1024);
  EXPECT_EQ(spec["linux"]["cgroupsPath"], "/kiln/" + in.id);
  EXPECT_TRUE(spec["linux"].contains("seccomp"));
  EXPECT_EQ(spec["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_ERRNO");
  EXPECT_FALSE(spec["linux"]["maskedPaths"].empty());
  bool netns = false;
  for (auto& n : spec["linux"]["namespaces"]) netns |= n["type"] == "network";
  EXPECT_TRUE(netns);
  EXPECT_EQ(spec["hostname"], in.id.substr(0, 12));
}

TEST(RunSpec, FlagsShapeTheSpec) {
  auto in = inputs();
  in.flags.command = {"sh", "-c", "x"};
  in.flags.memory = 64 << 20;
  in.flags.pids_limit = 10;
  in.flags.cpus = 0.5;
  in.flags.read_only = true;
  in.flags.host_network = true;
  in.flags.seccomp = "unconfined";
  in.flags.cap_drop = {"ALL"};
  in.flags.cap_add = {"net_bind_service"};
  in.nofile_hard_limit = 512;
  in.user = {1000, 1000, {}};
  auto spec = rt::build_run_spec(in);
  EXPECT_EQ(spec["process"]["args"], nlohmann::json({"/bin/entry", "sh", "-c", "x"}));
  EXPECT_EQ(spec["linux"]["resources"]["memory"]["limit"], 64 << 20);
  EXPECT_EQ(spec["linux"]["resources"]["pids"]["limit"], 10);
  EXPECT_EQ(spec["linux"]["resources"]["cpu"]["quota"], 50000);
  EXPECT_TRUE(spec["root"]["readonly"].get<bool>());
  EXPECT_FALSE(spec["linux"].contains("seccomp"));
  EXPECT_EQ(spec["process"]["rlimits"][0]["hard"], 512);  // never above the caller's hard limit
  EXPECT_EQ(spec["process"]["capabilities"]["bounding"], nlohmann::json({"CAP_NET_BIND_SERVICE"}));
  EXPECT_TRUE(spec["process"]["capabilities"]["effective"].empty());  // non-root
  for (auto& n : spec["linux"]["namespaces"]) EXPECT_NE(n["type"], "network");
  EXPECT_THROW(rt::effective_capabilities({"NOPE"}, {}), kiln::Error);
}

TEST(RunSpec, NoCommandIsAnError) {
  auto in = inputs();
  in.image.entrypoint.clear();
  in.image.cmd.clear();
  EXPECT_THROW(rt::build_run_spec(in), kiln::Error);
}

TEST(RunRecords, NamesAreUniqueAndRecordsRoundTrip) {
  char tmpl[] = "/tmp/kiln-records-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  rt::RunRecords records(tmpl);
  rt::RunRecord a;
  a.id = rt::RunRecords::new_id();
  a.name = "web";
  a.env_keys = {"K"};
  records.create(a);
  rt::RunRecord b;
  b.id = rt::RunRecords::new_id();
  b.name = "web";
  EXPECT_THROW(records.create(b), kiln::Error);
  EXPECT_EQ(records.resolve("web"), a.id);
  EXPECT_EQ(records.resolve(a.id.substr(0, 6)), a.id);
  EXPECT_EQ(records.load(a.id).env_keys, a.env_keys);
  EXPECT_THROW(rt::validate_container_name("../x"), kiln::Error);
  records.remove(a);
  EXPECT_THROW(records.resolve("web"), kiln::Error);
  std::string cmd = std::string("rm -rf ") + tmpl;
  ASSERT_EQ(std::system(cmd.c_str()), 0);
}

TEST(RunSpec, EtcFilesAreBoundBeforeVolumes) {
  rt::SpecInputs in = inputs();
  in.etc_dir = "/store/containers/x";
  in.flags.volumes.push_back(rt::parse_volume("/h:/etc/hosts:ro"));
  auto spec = rt::build_run_spec(in);
  std::vector<std::string> dests, sources;
  for (const auto& m : spec["mounts"]) {
    dests.push_back(m["destination"]);
    sources.push_back(m.value("source", ""));
  }
  auto at = [&](const std::string& d) { return std::find(dests.begin(), dests.end(), d) - dests.begin(); };
  ASSERT_LT(at("/etc/hostname"), static_cast<long>(dests.size()));
  EXPECT_EQ(sources[at("/etc/hostname")], "/store/containers/x/etc-hostname");
  EXPECT_EQ(sources[at("/etc/resolv.conf")], "/store/containers/x/etc-resolv.conf");
  // The user's volume comes after (so it wins): the last /etc/hosts mount is the volume.
  EXPECT_EQ(std::find(dests.rbegin(), dests.rend(), "/etc/hosts") - dests.rbegin(), 0);
  EXPECT_EQ(rt::container_hostname(in), std::string(12, 'a'));
  in.flags.read_only = true;
  auto ro = rt::build_run_spec(in);
  for (const auto& m : ro["mounts"]) {
    if (m["destination"] == "/etc/hostname") {
      EXPECT_NE(std::find(m["options"].begin(), m["options"].end(), "ro"), m["options"].end());
    }
  }
}

TEST(RunSpec, EtcFilesContent) {
  rt::EtcInputs in;
  in.hostname = "web1";
  auto files = rt::container_etc_files(in);
  ASSERT_EQ(files.size(), 3u);
  EXPECT_EQ(files[0].destination, "/etc/hostname");
  EXPECT_EQ(files[0].content, "web1\n");
  EXPECT_NE(files[1].content.find("127.0.0.1\tlocalhost\n"), std::string::npos);
  EXPECT_NE(files[1].content.find("127.0.1.1\tweb1\n"), std::string::npos);
  EXPECT_EQ(files[2].content.find("nameserver"), std::string::npos);  // no network: no servers
  in.host_network = true;
  in.host_hosts = "10.0.0.1 db";
  in.host_resolv_conf = "nameserver 10.0.0.53\n";
  files = rt::container_etc_files(in);
  EXPECT_EQ(files[1].content, "10.0.0.1 db\n");
  EXPECT_EQ(files[2].content, "nameserver 10.0.0.53\n");
}
