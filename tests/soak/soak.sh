#!/usr/bin/env bash
# Soak: N cycles (default 1000 by hand; tests/integration/soak_test.sh runs a small N in CI) of
#   kiln run --rm, kiln run -d + exec + rm -f, and kiln-runtime create/start/kill/delete,
# then checks that nothing grew: mounts under its dirs, kiln/* cgroups (every hierarchy; run it
# under the build lock so no other test makes some meanwhile), its processes, the fds and
# memory (VmRSS) of long-lived processes (the monitor of a container that runs through the
# whole soak), network namespaces, and files under the run roots and the store. Prints one line
# per measure: "NAME before after growth", and exits 1 when anything but the monitor's memory
# grew (its RSS may move by a page or two: reported, allowed up to 64 KiB).
# Usage: KILN_BUILD=build tests/soak/soak.sh [N]
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${KILN_BUILD:-$top/build}" && pwd)
KILN=$build/cli/kiln
KR=$build/cli/kiln-runtime
N=${1:-1000}
images=$(bash "$top/tests/fixtures/build-images.sh") || { echo "soak: fixture build failed" >&2; exit 1; }

work=$(mktemp -d /tmp/kiln-soak.XXXXXX)
export KILN_ROOT=$work/store KILN_RUN_ROOT=$work/run
cleanup() {
  "$KILN" rm -f soak-long >/dev/null 2>&1
  for c in $(ls "$work/rt-state" 2>/dev/null); do "$KR" --root "$work/rt-state" delete --force "$c" >/dev/null 2>&1; done
  grep -F "$work" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

"$KILN" import "$images/rootfs.tar.gz" busybox:latest >/dev/null || { echo "soak: import failed" >&2; exit 1; }
# An OCI bundle for kiln-runtime (busybox from the image, unpacked once).
mkdir -p "$work/bundle"
"$KILN" unpack busybox "$work/bundle" >/dev/null || { echo "soak: unpack failed" >&2; exit 1; }
(cd "$work/bundle" && { [ -e config.json ] || "$KR" spec; } && jq '.process.args = ["sleep", "100"] | .process.terminal = false' config.json > c.json && mv c.json config.json)

# The long-lived processes: a container that runs through the whole soak, and its monitor.
"$KILN" run -d --name soak-long busybox sleep 100000 >/dev/null || { echo "soak: run -d failed" >&2; exit 1; }
monitor=$("$KILN" inspect soak-long | jq -r '.[0].State.MonitorPid')

# Processes of this soak (the machine may run others): those whose environment names the work
# dir (kiln, monitors, inits before exec) or whose cgroup is one of this soak's containers'.
soak_processes() {
  local ids; ids=$( (ls "$KILN_RUN_ROOT/containers"; echo soak-rt) 2>/dev/null | paste -sd'|')
  for p in /proc/[0-9]*; do
    if grep -qaF "$work" "$p/environ" 2>/dev/null || grep -qE "kiln/($ids)\$" "$p/cgroup" 2>/dev/null; then echo "${p#/proc/}"; fi
  done | wc -l
}
measure() {
  echo "mounts $(grep -cF "$work" /proc/self/mountinfo)"
  echo "cgroups $(find /sys/fs/cgroup -maxdepth 4 -type d -path '*/kiln/*' 2>/dev/null | wc -l)"
  echo "processes $(soak_processes)"
  echo "monitor_fds $(ls /proc/"$monitor"/fd | wc -l)"
  echo "monitor_rss_kb $(awk '/VmRSS/ {print $2}' /proc/"$monitor"/status)"
  echo "netns $(for p in /proc/[0-9]*; do readlink "$p/ns/net" 2>/dev/null; done | sort -u | wc -l)"
  echo "run_root_files $(find "$KILN_RUN_ROOT" "$work/rt-state" 2>/dev/null | wc -l)"
  echo "store_files $(find "$KILN_ROOT" 2>/dev/null | wc -l)"
}

cycle() { # cycle I
  local i=$1
  "$KILN" run --rm busybox true >/dev/null || { echo "soak: cycle $i: run --rm" >&2; return 1; }
  "$KILN" run -d --name soak-d busybox sleep 100 >/dev/null || { echo "soak: cycle $i: run -d" >&2; return 1; }
  [ "$("$KILN" exec soak-d echo hi)" == hi ] || { echo "soak: cycle $i: exec" >&2; return 1; }
  "$KILN" rm -f soak-d >/dev/null || { echo "soak: cycle $i: rm -f" >&2; return 1; }
  "$KR" --root "$work/rt-state" create --bundle "$work/bundle" soak-rt >/dev/null || { echo "soak: cycle $i: create" >&2; return 1; }
  "$KR" --root "$work/rt-state" start soak-rt || { echo "soak: cycle $i: start" >&2; return 1; }
  "$KR" --root "$work/rt-state" kill soak-rt KILL || { echo "soak: cycle $i: kill" >&2; return 1; }
  for _ in $(seq 100); do [ "$("$KR" --root "$work/rt-state" state soak-rt | jq -r .status)" == stopped ] && break; sleep 0.01; done
  "$KR" --root "$work/rt-state" delete soak-rt || { echo "soak: cycle $i: delete" >&2; return 1; }
}

# One warm-up cycle first: caches made once (seccomp, the init layer) are not growth.
cycle 0 || exit 1
before=$(measure)
start=$(date +%s.%N)
for i in $(seq "$N"); do cycle "$i" || exit 1; done
secs=$(echo "$(date +%s.%N) - $start" | bc -l)
after=$(measure)

rc=0
printf '%-16s %10s %10s %8s\n' measure before after growth
while read -r name b; do
  a=$(echo "$after" | awk -v n="$name" '$1 == n {print $2}')
  g=$((a - b))
  printf '%-16s %10s %10s %8s\n' "$name" "$b" "$a" "$g"
  if [ "$name" == monitor_rss_kb ]; then [ $g -le 64 ] || rc=1
  elif [ $g -gt 0 ]; then rc=1; fi
done <<< "$before"
printf 'cycles: %d in %.1f s (%.0f ms per cycle of 3 containers)\n' "$N" "$secs" "$(echo "$secs * 1000 / $N" | bc -l)"
[ $rc -eq 0 ] && echo "soak: no growth" || echo "soak: GROWTH"
exit $rc
