// libcurl, loaded the first time a registry is used (dlopen) rather than by the dynamic loader
// at every start of kiln. libcurl pulls in 33 shared libraries (OpenSSL, GnuTLS, Kerberos,
// LDAP, ...): mapping and relocating them took ~4 ms of every kiln command, twice for `kiln run`
// (the sealed re-exec), and their relocated data ~1 MiB of private memory in every container's
// monitor, which never talks to a registry.
//
// These are the libcurl functions the registry client calls, with libcurl's own prototypes;
// each forwards to the loaded library. A missing libcurl makes them fail the way libcurl
// reports failure (NULL handle, CURLE_FAILED_INIT), and is logged once. A new libcurl call in
// kiln needs one more line here (the link fails until it has one).
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>
#include <dlfcn.h>

#include "image/dl_symbol.hpp"
#include <spdlog/spdlog.h>

#include <cstdarg>

#undef curl_easy_setopt
#undef curl_easy_getinfo

// The prototypes are libcurl's (an enum before the "..."): clang warns that va_start after a
// parameter that undergoes promotion is undefined; libcurl itself is built the same way, and on
// the ABIs kiln runs on the enum travels as an int in a register.
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wvarargs"
#endif

namespace {

using kiln::image::find_symbol;

struct CurlLibrary {
  bool loaded = false;
  CURLcode (*global_init)(long) = nullptr;
  CURL* (*easy_init)() = nullptr;
  void (*easy_cleanup)(CURL*) = nullptr;
  void (*easy_reset)(CURL*) = nullptr;
  CURLcode (*easy_perform)(CURL*) = nullptr;
  CURLcode (*easy_setopt)(CURL*, CURLoption, ...) = nullptr;
  CURLcode (*easy_getinfo)(CURL*, CURLINFO, ...) = nullptr;
  const char* (*easy_strerror)(CURLcode) = nullptr;
  char* (*easy_escape)(CURL*, const char*, int) = nullptr;
  void (*free)(void*) = nullptr;
  curl_slist* (*slist_append)(curl_slist*, const char*) = nullptr;
  void (*slist_free_all)(curl_slist*) = nullptr;
};

CurlLibrary open_curl_library() {
  CurlLibrary c;
  void* lib = ::dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    spdlog::warn("registry access needs libcurl: {}", ::dlerror());
    return c;
  }
  c.loaded =
      find_symbol(lib, "curl_global_init", c.global_init) && find_symbol(lib, "curl_easy_init", c.easy_init) &&
      find_symbol(lib, "curl_easy_cleanup", c.easy_cleanup) && find_symbol(lib, "curl_easy_reset", c.easy_reset) &&
      find_symbol(lib, "curl_easy_perform", c.easy_perform) && find_symbol(lib, "curl_easy_setopt", c.easy_setopt) &&
      find_symbol(lib, "curl_easy_getinfo", c.easy_getinfo) &&
      find_symbol(lib, "curl_easy_strerror", c.easy_strerror) && find_symbol(lib, "curl_easy_escape", c.easy_escape) &&
      find_symbol(lib, "curl_free", c.free) && find_symbol(lib, "curl_slist_append", c.slist_append) &&
      find_symbol(lib, "curl_slist_free_all", c.slist_free_all);
  if (!c.loaded) spdlog::warn("libcurl.so.4 lacks a function kiln calls: {}", ::dlerror());
  return c;  // the library stays loaded for the life of the process
}

const CurlLibrary& curl_library() {
  static const CurlLibrary lib = open_curl_library();  // thread-safe: a C++ static
  return lib;
}

}  // namespace

extern "C" {

CURLcode curl_global_init(long flags) {
  const CurlLibrary& c = curl_library();
  return c.loaded ? c.global_init(flags) : CURLE_FAILED_INIT;
}

CURL* curl_easy_init() {
  const CurlLibrary& c = curl_library();
  return c.loaded ? c.easy_init() : nullptr;
}

// A handle exists only when the library loaded: the calls on one need no check.
void curl_easy_cleanup(CURL* h) { curl_library().easy_cleanup(h); }
void curl_easy_reset(CURL* h) { curl_library().easy_reset(h); }
CURLcode curl_easy_perform(CURL* h) { return curl_library().easy_perform(h); }

// The option's number says its argument's type (curl.h: CURLOPTTYPE_*).
CURLcode curl_easy_setopt(CURL* h, CURLoption option, ...) {
  va_list ap;
  va_start(ap, option);
  CURLcode rc;
  if (option < CURLOPTTYPE_OBJECTPOINT) {
    long v = va_arg(ap, long);
    rc = curl_library().easy_setopt(h, option, v);
  } else if (option >= CURLOPTTYPE_OFF_T && option < CURLOPTTYPE_BLOB) {
    curl_off_t v = va_arg(ap, curl_off_t);
    rc = curl_library().easy_setopt(h, option, v);
  } else {
    void* v = va_arg(ap, void*);  // object, string, function (same size here) or blob pointer
    rc = curl_library().easy_setopt(h, option, v);
  }
  va_end(ap);
  return rc;
}

// Every CURLINFO_* takes a pointer to where the answer goes.
CURLcode curl_easy_getinfo(CURL* h, CURLINFO info, ...) {
  va_list ap;
  va_start(ap, info);
  void* out = va_arg(ap, void*);
  va_end(ap);
  return curl_library().easy_getinfo(h, info, out);
}

const char* curl_easy_strerror(CURLcode rc) {
  const CurlLibrary& c = curl_library();
  return c.loaded ? c.easy_strerror(rc) : "libcurl could not be loaded";
}

char* curl_easy_escape(CURL* h, const char* s, int n) { return curl_library().easy_escape(h, s, n); }
void curl_free(void* p) {
  if (p) curl_library().free(p);
}

curl_slist* curl_slist_append(curl_slist* list, const char* s) {
  const CurlLibrary& c = curl_library();
  return c.loaded ? c.slist_append(list, s) : nullptr;
}

void curl_slist_free_all(curl_slist* list) {
  if (list) curl_library().slist_free_all(list);
}

}  // extern "C"
