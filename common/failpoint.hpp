// Failpoints: named places where a test can make kiln crash or fail on purpose, to prove that
// whatever a kill -9 or a failing system call leaves behind is found and cleaned by the next
// command. Compiled in only with -DKILN_FAILPOINTS=ON (tests/run.sh's integration build); in a
// normal build KILN_FAILPOINT(name) expands to nothing and no trace of this file remains.
//
// Armed from the environment, read once per process:
//   KILN_FAILPOINT=name:kill            the process SIGKILLs itself there
//   KILN_FAILPOINT=name:error[=ERRNO]   the step throws kiln::Error with that errno (EIO by
//                                       default; a name like ENOSPC or a number), as the real
//                                       system call failing there would
//   ...name:kill@N                      only the Nth time the point is reached (1 = the first)
// Several points: separated by ','. KILN_FAILPOINT_LIST=1 makes every reached point print its
// name to stderr once (how the tests find the points a command passes).
#pragma once

#ifdef KILN_FAILPOINTS
namespace kiln::failpoint {
// Acts as armed (kill or throw) when `name` is armed; returns otherwise.
void hit(const char* name);
}  // namespace kiln::failpoint
#define KILN_FAILPOINT(name) ::kiln::failpoint::hit(name)
#else
#define KILN_FAILPOINT(name) ((void)0)
#endif
