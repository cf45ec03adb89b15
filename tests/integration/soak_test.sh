#!/usr/bin/env bash
# A short soak (tests/soak/soak.sh with KILN_SOAK_N cycles, 25 by default; 1000 by hand): no
# growth in mounts, cgroups, processes, a monitor's fds and memory, netns, files.
. "$(dirname "$0")/lib.sh"

test_soak_no_growth() {
  KILN_BUILD=$KILN_BUILD bash "$TOP/tests/soak/soak.sh" "${KILN_SOAK_N:-25}" || fail "soak"
}

run_tests
