#include <gtest/gtest.h>
#include <sched.h>
#include <sys/resource.h>

#include "common/error.hpp"
#include "runtime/default_spec.hpp"
#include "runtime/spec.hpp"

using namespace kiln;
using namespace kiln::runtime;
using json = nlohmann::json;

namespace {

std::string error_of(const json& config) {
  try {
    parse_spec(config, "/bundle");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Spec, DefaultSpecParses) {
  Spec s = parse_spec(default_spec(), "/bundle");
  EXPECT_EQ(s.root_path, "/bundle/rootfs");
  EXPECT_TRUE(s.root_readonly);
  EXPECT_EQ(s.process.args, std::vector<std::string>{"sh"});
  EXPECT_TRUE(s.linux.has_namespace("pid"));
  EXPECT_EQ(s.linux.find_namespace("mount")->clone_flag, CLONE_NEWNS);
  EXPECT_EQ(s.process.capabilities.bounding.size(), default_capabilities().size());
  EXPECT_TRUE(s.process.capabilities.inheritable.empty());
  ASSERT_EQ(s.process.rlimits.size(), 1u);
  EXPECT_EQ(s.process.rlimits[0].resource, RLIMIT_NOFILE);
  EXPECT_EQ(s.mounts.size(), 7u);
}

TEST(Spec, FullProcessAndLinux) {
  json c = default_spec();
  c["process"]["user"] = {{"uid", 1000}, {"gid", 1001}, {"umask", 18}, {"additionalGids", {5, 7}}};
  c["process"]["oomScoreAdj"] = 100;
  c["linux"]["namespaces"].push_back({{"type", "user"}});
  c["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
  c["linux"]["gidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
  c["linux"]["devices"] = {{{"path", "/dev/fuse"}, {"type", "c"}, {"major", 10}, {"minor", 229}, {"fileMode", 438}}};
  c["linux"]["sysctl"] = {{"net.ipv4.ip_forward", "1"}};
  c["linux"]["personality"] = {{"domain", "LINUX32"}};
  c["annotations"] = {{"a", "b"}};
  Spec s = parse_spec(c, "/b");
  EXPECT_EQ(s.process.user.uid, 1000u);
  EXPECT_EQ(*s.process.user.umask, 18u);
  EXPECT_EQ(s.process.user.additional_gids, (std::vector<gid_t>{5, 7}));
  EXPECT_EQ(*s.process.oom_score_adj, 100);
  EXPECT_EQ(s.linux.uid_mappings[0].host_id, 100000u);
  EXPECT_EQ(s.linux.devices[0].major, 10);
  EXPECT_EQ(*s.linux.devices[0].file_mode, 438u);
  EXPECT_EQ(s.linux.sysctl.at("net.ipv4.ip_forward"), "1");
  EXPECT_EQ(*s.linux.personality, 8ul);
  EXPECT_EQ(s.annotations.at("a"), "b");
}

TEST(Spec, ErrorsNameTheFieldAndValue) {
  json c = default_spec();
  c["linux"]["namespaces"].push_back({{"type", "foo"}});
  EXPECT_EQ(error_of(c), "linux.namespaces[5].type: namespace type \"foo\": unknown");

  c = default_spec();
  c["process"]["capabilities"]["bounding"].push_back("CAP_NOPE");
  EXPECT_EQ(error_of(c), "process.capabilities.bounding: capability \"CAP_NOPE\": unknown");

  c = default_spec();
  c["process"]["rlimits"].push_back({{"type", "RLIMIT_X"}, {"soft", 1}, {"hard", 1}});
  EXPECT_EQ(error_of(c), "process.rlimits[1].type: rlimit \"RLIMIT_X\": unknown");

  c = default_spec();
  c["process"]["rlimits"][0]["soft"] = 2048;
  EXPECT_EQ(error_of(c), "process.rlimits[0]: soft limit 2048 is above the hard limit 1024");

  c = default_spec();
  c["process"]["cwd"] = "relative";
  EXPECT_EQ(error_of(c), "process.cwd: must be an absolute path: \"relative\"");

  c = default_spec();
  c["process"]["args"] = json::array();
  EXPECT_EQ(error_of(c), "process.args: must name the program to run");

  c = default_spec();
  c["process"]["user"]["uid"] = -1;
  EXPECT_EQ(error_of(c), "process.user.uid: must not be negative");

  c = default_spec();
  c["ociVersion"] = "2.0.0";
  EXPECT_EQ(error_of(c), "ociVersion: unsupported version \"2.0.0\" (need 1.x)");

  c = default_spec();
  c.erase("root");
  EXPECT_EQ(error_of(c), "config.root: missing");

  c = default_spec();
  c["mounts"][0]["destination"] = "proc";
  EXPECT_EQ(error_of(c), "mounts[0].destination: must be an absolute path: \"proc\"");

  c = default_spec();
  c["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 1}, {"size", 1}}};
  EXPECT_EQ(error_of(c), "linux.uidMappings: id mappings given without a user namespace");

  c = default_spec();
  c["linux"]["namespaces"] = json::array({{{"type", "mount"}}});
  EXPECT_EQ(error_of(c), "hostname: setting a hostname needs a new uts namespace");

  c = default_spec();
  c["linux"]["rootfsPropagation"] = "sideways";
  EXPECT_EQ(error_of(c), "linux.rootfsPropagation: unknown propagation \"sideways\"");

  c = default_spec();
  c["process"]["oomScoreAdj"] = 5000;
  EXPECT_EQ(error_of(c), "process.oomScoreAdj: must be between -1000 and 1000");
}

TEST(Spec, EnvErrorsNeverShowTheValue) {
  json c = default_spec();
  c["process"]["env"].push_back("=s3cr3t-value");
  std::string err = error_of(c);
  EXPECT_EQ(err, "process.env[2]: must be KEY=VALUE");
  EXPECT_EQ(err.find("s3cr3t"), std::string::npos);
}

TEST(Spec, WrongTypes) {
  json c = default_spec();
  c["process"]["terminal"] = "yes";
  EXPECT_EQ(error_of(c), "process.terminal: must be true or false");
  c = default_spec();
  c["mounts"] = "none";
  EXPECT_EQ(error_of(c), "mounts: must be an array");
  EXPECT_EQ(error_of(json::array()), "config: must be a JSON object");
}

TEST(Spec, NameHelpers) {
  EXPECT_EQ(capability_from_name("CAP_SYS_ADMIN"), 21);
  EXPECT_THROW(capability_from_name("SYS_ADMIN"), Error);
  EXPECT_EQ(rlimit_from_name("RLIMIT_NPROC"), RLIMIT_NPROC);
  EXPECT_EQ(namespace_clone_flag("cgroup"), CLONE_NEWCGROUP);
}

// Only namespaced sysctls, and only in a namespace the container owns (kernel.core_pattern
// from a config.json would run a program of the image's choosing as root on the host).
TEST(Spec, SysctlsMustBeNamespacedAndPrivate) {
  json c = default_spec();
  c["linux"]["sysctl"] = {{"kernel.shmmax", "1"}, {"fs.mqueue.msg_max", "10"}, {"net.ipv4.ip_forward", "1"}};
  EXPECT_EQ(error_of(c), "");
  for (const char* host_wide : {"kernel.core_pattern", "vm.overcommit_memory", "kernel.modprobe", "fs.file-max",
                                "kernel/core_pattern", "../kernel.core_pattern"}) {
    c["linux"]["sysctl"] = {{host_wide, "x"}};
    EXPECT_NE(error_of(c).find("linux.sysctl."), std::string::npos) << host_wide;
  }
  c["linux"]["sysctl"] = {{"kernel.core_pattern", "|/evil"}};
  EXPECT_NE(error_of(c).find("not a namespaced sysctl"), std::string::npos) << error_of(c);
  // net.* with the host's network namespace: refused.
  c = default_spec();
  c["linux"]["sysctl"] = {{"net.ipv4.ip_forward", "1"}};
  for (auto& ns : c["linux"]["namespaces"])
    if (ns["type"] == "network") ns["path"] = "/proc/self/ns/net";
  EXPECT_NE(error_of(c).find("needs a network namespace"), std::string::npos) << error_of(c);
  c = default_spec();
  c["linux"]["sysctl"] = {{"kernel.msgmax", "1"}};
  json kept = json::array();
  for (auto& ns : c["linux"]["namespaces"])
    if (ns["type"] != "ipc") kept.push_back(ns);
  c["linux"]["namespaces"] = kept;
  EXPECT_NE(error_of(c).find("needs a ipc namespace"), std::string::npos) << error_of(c);
}

// (uint32)-1 means "unchanged" to setresuid: as a uid it would leave the process root.
TEST(Spec, IdMinusOneIsRefused) {
  for (const char* field : {"uid", "gid"}) {
    json c = default_spec();
    c["process"]["user"][field] = 4294967295u;
    EXPECT_NE(error_of(c).find("not a valid id"), std::string::npos) << field << ": " << error_of(c);
  }
  json c = default_spec();
  c["process"]["user"]["additionalGids"] = {4294967295u};
  EXPECT_NE(error_of(c).find("not a valid id"), std::string::npos);
  c = default_spec();
  c["linux"]["namespaces"].push_back({{"type", "user"}});
  c["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 4294967295u - 10}, {"size", 11}}};
  c["linux"]["gidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 1}}};
  EXPECT_NE(error_of(c).find("4294967295"), std::string::npos) << error_of(c);
}
