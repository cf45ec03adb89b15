// A process that enters a container must not be running from a file a container can write.
//
// CVE-2019-5736: a container process can reach the runtime's binary through /proc/PID/exe (a
// script whose interpreter is /proc/self/exe, exec'd by `exec`, IS our binary once the kernel
// has loaded it, and is dumpable again). Being non-dumpable until execve does not cover that.
// So before a command clones anything into a container, it re-executes itself from a copy
// nothing can write:
//   - overlay: the binary's directory as the only layers of a detached, read-only overlayfs
//     (no upper layer, so no write can ever reach the file, whatever a privileged container does
//     to the mount's flags); costs one small mount, shares the page cache, copies nothing;
//   - memfd: a copy in a memfd sealed against write, shrink, grow and new seals (runc's and
//     crun's classic way), used when overlayfs cannot be mounted (no privilege, no overlay).
#pragma once
#include <string>

namespace kiln {

enum class SealedExeKind { overlay, memfd };

// True when this process already runs from a sealed copy (it set a marker before the re-exec,
// and the file it runs from is such a copy).
bool running_from_sealed_exe();

// Re-executes argv from a sealed copy of /proc/self/exe; returns only when already sealed.
// KILN_SEALED_EXE=memfd forces the memfd way (tests cover both). Throws kiln::Error on failure.
void reexec_from_sealed_exe(char** argv);

// The path of the binary this process was started as, also from a sealed copy (whose
// /proc/self/exe is a memfd or a detached mount): for finding the programs installed beside it.
std::string original_exe_path();

}  // namespace kiln
