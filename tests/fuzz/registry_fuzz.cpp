// libFuzzer target: what a registry or a credentials file sends us (WWW-Authenticate
// challenges, auth.json documents, registries.conf, upload Locations) must be refused
// with a kiln::Error or nullopt, never crash, hang or leak.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/error.hpp"
#include "image/registry_auth.hpp"
#include "image/registry_client.hpp"
#include "image/registries_conf.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  (void)kiln::image::parse_auth_challenge(text);
  try {
    kiln::image::RegistriesConf conf = kiln::image::parse_registries_conf(text, "registries.conf");
    (void)kiln::image::route_for(conf, "127.0.0.1:5000/team/app", "registries.conf");
  } catch (const kiln::Error&) {
  }
  try {
    (void)kiln::image::credentials_from_auth_json(text, "127.0.0.1:5000", "auth.json");
  } catch (const kiln::Error&) {
  }
  try {
    std::string url = kiln::image::resolve_upload_location("http://127.0.0.1:5000", text);
    // whatever it accepts stays on our registry, where the Authorization header may go
    if (url.rfind("http://127.0.0.1:5000/", 0) != 0) __builtin_trap();
  } catch (const kiln::Error&) {
  }
  return 0;
}
