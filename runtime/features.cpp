#include "runtime/features.hpp"

#include <sys/capability.h>

#include <algorithm>
#include <cctype>

#include "runtime/mount_options.hpp"
#include "runtime/seccomp_profile.hpp"
#include "runtime/spec.hpp"
#include "runtime/version.hpp"

namespace kiln::runtime {
namespace {

// Every capability libcap knows, as the spec writes them (CAP_CHOWN ...): the names
// capability_from_name accepts.
std::vector<std::string> known_capability_names() {
  std::vector<std::string> out;
  for (int cap = 0; cap <= CAP_LAST_CAP; ++cap) {
    char* text = cap_to_name(static_cast<cap_value_t>(cap));
    if (!text) continue;
    std::string name(text);
    cap_free(text);
    if (name.rfind("cap_", 0) != 0) continue;  // libcap writes unnamed ones as numbers
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::toupper(c); });
    out.push_back(name);
  }
  return out;
}

}  // namespace

nlohmann::json runtime_features() {
  using json = nlohmann::json;
  std::vector<std::string> mount_options = mount_option_names();
  std::sort(mount_options.begin(), mount_options.end());
  return {{"ociVersionMin", "1.0.0"},
          {"ociVersionMax", kOciVersion},
          {"hooks", {"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}},
          {"mountOptions", mount_options},
          {"linux",
           {{"namespaces", namespace_type_names()},
            {"capabilities", known_capability_names()},
            {"cgroup", {{"v1", true}, {"v2", true}, {"systemd", false}, {"systemdUser", false}, {"rdma", true}}},
            {"seccomp",
             {{"enabled", true},
              {"actions", seccomp_action_names()},
              {"operators", seccomp_operator_names()},
              {"archs", seccomp_arch_names()},
              {"knownFlags", seccomp_flag_names()},
              {"supportedFlags", seccomp_kernel_flag_names()}}},
            {"apparmor", {{"enabled", false}}},
            {"selinux", {{"enabled", false}}},
            {"intelRdt", {{"enabled", false}}},
            {"mountExtensions", {{"idmap", {{"enabled", false}}}}}}},
          {"annotations", json::object()}};
}

}  // namespace kiln::runtime
