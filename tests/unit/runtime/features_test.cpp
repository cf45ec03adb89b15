// `features` says exactly what the parsers accept: every name it lists is accepted and takes
// effect, and what is accepted but not applied (rro, idmap) is not listed.
#include "runtime/features.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "runtime/mount_options.hpp"
#include "runtime/seccomp_profile.hpp"
#include "runtime/spec.hpp"

namespace rt = kiln::runtime;
using json = nlohmann::json;

namespace {
bool listed(const json& list, const std::string& name) {
  return std::find(list.begin(), list.end(), name) != list.end();
}
}  // namespace

TEST(Features, EveryMountOptionTakesEffect) {
  json f = rt::runtime_features();
  ASSERT_GE(f["mountOptions"].size(), 30u);
  for (const auto& o : f["mountOptions"]) {
    rt::MountOptions m = rt::parse_mount_options({o.get<std::string>()});
    EXPECT_TRUE(m.data.empty()) << o;
    EXPECT_TRUE(m.flags || m.clear || m.propagation) << o;
  }
  for (const char* not_applied : {"rro", "rnosuid", "idmap", "tmpcopyup"})
    EXPECT_FALSE(listed(f["mountOptions"], not_applied));
}

TEST(Features, CapabilitiesAndNamespacesAreTheParsersOwn) {
  json f = rt::runtime_features();
  ASSERT_GE(f["linux"]["capabilities"].size(), 38u);
  for (const auto& c : f["linux"]["capabilities"]) EXPECT_NO_THROW(rt::capability_from_name(c.get<std::string>())) << c;
  EXPECT_TRUE(listed(f["linux"]["capabilities"], "CAP_CHECKPOINT_RESTORE"));
  EXPECT_EQ(f["linux"]["namespaces"].size(), 8u);
  for (const auto& n : f["linux"]["namespaces"]) EXPECT_NO_THROW(rt::namespace_clone_flag(n.get<std::string>())) << n;
}

TEST(Features, EverySeccompNameParses) {
  json s = rt::runtime_features()["linux"]["seccomp"];
  for (const auto& action : s["actions"]) {
    json p = {{"defaultAction", action}, {"listenerPath", "/run/l.sock"}};
    EXPECT_NO_THROW(rt::parse_seccomp(p)) << action;
  }
  for (const auto& op : s["operators"]) {
    json p = {
        {"defaultAction", "SCMP_ACT_ALLOW"},
        {"syscalls",
         {{{"names", {"read"}}, {"action", "SCMP_ACT_ERRNO"}, {"args", {{{"index", 0}, {"value", 1}, {"op", op}}}}}}}};
    EXPECT_NO_THROW(rt::parse_seccomp(p)) << op;
  }
  for (const auto& arch : s["archs"]) EXPECT_TRUE(rt::seccomp_arch_token(arch.get<std::string>())) << arch;
  for (const auto& flag : s["knownFlags"])
    EXPECT_NO_THROW(rt::parse_seccomp(json{{"defaultAction", "SCMP_ACT_ALLOW"}, {"flags", {flag}}})) << flag;
  for (const auto& flag : s["supportedFlags"]) EXPECT_TRUE(listed(s["knownFlags"], flag)) << flag;
  // This kernel (6.x) has at least TSYNC and LOG.
  EXPECT_TRUE(listed(s["supportedFlags"], "SECCOMP_FILTER_FLAG_TSYNC"));
  EXPECT_TRUE(listed(s["supportedFlags"], "SECCOMP_FILTER_FLAG_LOG"));
}
