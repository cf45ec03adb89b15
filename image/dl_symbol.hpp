// Libraries kiln loads on first use (libcurl, ISA-L): most commands never need them, and a
// library loaded at start costs every command its load time.
#pragma once
#include <dlfcn.h>

namespace kiln::image {

// Looks `name` up in a dlopen'ed library and stores it as the function pointer type of `out`;
// false when the library has no such symbol.
template <typename F>
bool find_symbol(void* lib, const char* name, F& out) {
  out = reinterpret_cast<F>(::dlsym(lib, name));
  return out != nullptr;
}

}  // namespace kiln::image
