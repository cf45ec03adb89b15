#!/usr/bin/env bash
# Many identical containers from one image: N (default 50) containers started concurrently
# (and the same N from one `kiln run -d --replicas N`),
# each running `true`, timed until all have exited; disk used per container; time to remove
# them all. kiln (`kiln run -d IMAGE true`, overlay per container) side by side with runc and
# crun on N bundles sharing ONE read-only rootfs (the cheapest layout a peer can have; `run` in
# the foreground, all at once). Then `kiln run --rm IMAGE true` against `podman run --rm`
# (runtime runc), one at a time. Also kiln-runtime on the peers' bundles, and the floor: the
# namespaces alone. Prints the times and the ratios.
#
#   bench/many.sh [-n N] [--no-podman]        (as root; build kiln first)
set -euo pipefail
N=50; PODMAN=1
while [ $# -gt 0 ]; do
  case $1 in
    -n) N=${2:?-n needs a number}; shift 2 ;;
    --no-podman) PODMAN=0; shift ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "many.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
[[ $N =~ ^[1-9][0-9]*$ ]] || { echo "many.sh: -n wants a positive number" >&2; exit 2; }
TOP=$(cd "$(dirname "$0")/.." && pwd)
KILN=${KILN:-$TOP/build/cli/kiln}
KR=${KILN_RUNTIME:-$TOP/build/cli/kiln-runtime}
die() { echo "many.sh: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "run as root"
[ -x "$KILN" ] && [ -x "$KR" ] || die "no $KILN or $KR: ninja -C $TOP/build"
IMAGES=$(bash "$TOP/tests/fixtures/build-images.sh") || die "fixture images"

W=$(mktemp -d /tmp/kiln-many.XXXXXX)
TAG=kmany$$
# Every tool's state (kiln's run root, runc's and crun's --root) on a tmpfs, as /run is on most
# distributions (here /run is on the root ext4, where creating an inode right after many were
# deleted costs more than the rest of a container's start: see bench/README.md). The image
# store and the peers' rootfs stay on disk.
mkdir -p "$W/run"
mount -t tmpfs -o mode=0755 kiln-many-run "$W/run" || die "mount a tmpfs on $W/run"
export KILN_ROOT=$W/store KILN_RUN_ROOT=$W/run/kiln
PRE=''; mountpoint -q /sys/fs/cgroup/unified && PRE='umount /sys/fs/cgroup/unified && '
cleanup() {
  set +e
  "$KILN" rm -f $("$KILN" ps -aq --no-trunc 2>/dev/null) >/dev/null 2>&1
  find /sys/fs/cgroup -mindepth 2 -maxdepth 4 -depth -type d -name "$TAG-*" -exec rmdir {} + 2>/dev/null
  grep -F "$W" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l 2>/dev/null
  podman rmi -f "$TAG" >/dev/null 2>&1
  rm -rf "$W"
}
trap cleanup EXIT
now() { date +%s.%N; }
# Waits (at most 120 s) until N kiln containers have exited with status 0.
wait_all_exited() {
  local deadline=$((SECONDS + 120))
  while [ "$("$KILN" ps -a | grep -c 'Exited (0)')" -lt "$N" ]; do
    [ "$SECONDS" -lt "$deadline" ] || { "$KILN" ps -a >&2; die "not all $N containers exited with 0 within 120 s"; }
    sleep 0.02
  done
}
ms() { echo "($2 - $1) * 1000" | bc -l | xargs printf '%.0f'; }

"$KILN" import "$IMAGES/rootfs.tar.gz" busybox:latest >/dev/null
"$KILN" run --rm busybox true   # warm: init layer, seccomp cache

# --- kiln: N detached containers at once, until every one has exited. --network none: the
# peers' bundles have a network namespace with loopback only, so does kiln here (what a bridge
# network adds is bench/network.sh's subject).
t0=$(now)
for i in $(seq "$N"); do "$KILN" run -d --network none busybox true >/dev/null & done
wait
wait_all_exited
t1=$(now)
kiln_start=$(ms "$t0" "$t1")
kiln_disk=$(du -sk --exclude=.init "$KILN_ROOT/containers" | cut -f1)
t0=$(now); "$KILN" rm $("$KILN" ps -aq --no-trunc) >/dev/null; t1=$(now)
kiln_rm=$(ms "$t0" "$t1")

# --- kiln --replicas: the same N containers from one kiln process
t0=$(now)
"$KILN" run -d --replicas "$N" --name "$TAG" --network none busybox true >/dev/null
wait_all_exited
t1=$(now)
replicas_start=$(ms "$t0" "$t1")
"$KILN" rm $("$KILN" ps -aq --no-trunc) >/dev/null

# --- runc / crun: N bundles sharing one read-only rootfs
mkdir -p "$W/rootfs"; tar -xzf "$IMAGES/rootfs.tar.gz" -C "$W/rootfs"; mkdir -p "$W/rootfs"/{proc,sys,dev}
runc spec --bundle "$W" 2>/dev/null || (cd "$W" && runc spec)
jq --arg r "$W/rootfs" '.root = {path: $r, readonly: true} | .process.args = ["true"] | .process.terminal = false' \
  "$W/config.json" > "$W/config.shared.json"
for i in $(seq "$N"); do mkdir -p "$W/b/$i"; cp "$W/config.shared.json" "$W/b/$i/config.json"; done
peer() { # peer LABEL BINARY: N x BINARY run at once, each on its own bundle
  local label=$1 bin=$2 t0 t1
  mkdir -p "$W/run/root-$label"
  t0=$(now)
  for i in $(seq "$N"); do
    "$bin" --root "$W/run/root-$label" run --bundle "$W/b/$i" "$TAG-$label-$i" </dev/null >/dev/null 2>&1 &
  done
  wait
  t1=$(now)
  ms "$t0" "$t1"
}
runc_start=$(peer runc runc)
# kiln's own runtime on the same bundles: what the engine adds on top of it is kiln's row minus this.
kr_start=$(peer kiln-runtime "$KR")
# crun 1.8 refuses the hybrid cgroup layout: run it where the cgroup2 mount is gone, in ONE
# private mount namespace for all N (a host without the hybrid layout pays no wrapper at all; a
# wrapper per container added 50 x unshare + umount + sh to crun's row, ~100 ms here).
crun_start=$(
  mkdir -p "$W/run/root-crun"; t0=$(now)
  unshare -m sh -c "${PRE}for i in \$(seq $N); do crun --root $W/run/root-crun run --bundle $W/b/\$i $TAG-crun-\$i </dev/null >/dev/null 2>&1 & done; wait" </dev/null >/dev/null 2>&1
  t1=$(now); ms "$t0" "$t1")
shared_disk=$(du -sk "$W/rootfs" | cut -f1)
# The floor: N processes that only get the namespaces a container has (mount, UTS, IPC,
# network, PID) and exec true, no cgroup, mount, pivot_root, seccomp or state. No runtime can
# start N containers in less.
floor_start=$(t0=$(now); for i in $(seq "$N"); do unshare -m -u -i -n -p -f true </dev/null & done; wait; t1=$(now); ms "$t0" "$t1")

echo "== $N identical containers, started at once, until all have exited (running true)"
printf '  %-8s %6s ms   disk per container %s KiB   remove all %s ms\n' kiln "$kiln_start" "$(( kiln_disk / N ))" "$kiln_rm"
printf '  %-8s %6s ms   (kiln run -d --replicas %s: one kiln process)\n' replicas "$replicas_start" "$N"
printf '  %-8s %6s ms   (shared read-only rootfs: %s KiB for all; run removes on exit)\n' runc "$runc_start" "$shared_disk"
printf '  %-8s %6s ms   (one shared wrapper: unshare -m, umount of the cgroup2 mount)\n' crun "$crun_start"
printf '  %-8s %6s ms   (kiln-runtime run on the same bundles: the runtime alone)\n' k-rt "$kr_start"
printf '  %-8s %6s ms   (%s x unshare -m -u -i -n -p -f true: namespaces and exec only)\n' floor "$floor_start" "$N"
echo "  kiln/runc $(echo "$kiln_start / $runc_start" | bc -l | xargs printf '%.2f')x   kiln/crun $(echo "$kiln_start / $crun_start" | bc -l | xargs printf '%.2f')x   replicas/crun $(echo "$replicas_start / $crun_start" | bc -l | xargs printf '%.2f')x   kiln-runtime/crun $(echo "$kr_start / $crun_start" | bc -l | xargs printf '%.2f')x   floor/crun $(echo "$floor_start / $crun_start" | bc -l | xargs printf '%.2f')x   (load $(cut -d' ' -f1-3 /proc/loadavg))"

# --- what a running detached container costs the host besides itself: its monitor (kiln's,
# which waits as the small kiln-monitor; podman's conmon), N of them running at once.
# Private_Dirty is the memory only that process holds; Pss adds its share of the pages the N
# monitors share (the binary, libc).
monitor_kib() { # monitor_kib FIELD PID... -> mean KiB over the PIDs
  local field=$1 total=0 n=0 p v; shift
  for p in "$@"; do
    v=$(awk -v f="$field:" '$1 == f {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null) || continue
    [ -n "$v" ] || continue
    total=$((total + v)); n=$((n + 1))
  done
  [ "$n" -gt 0 ] && echo $((total / n)) || echo "?"
}
for i in $(seq "$N"); do "$KILN" run -d --network none busybox sleep 600 >/dev/null; done
mapfile -t kiln_monitors < <(for c in $("$KILN" ps -q --no-trunc); do "$KILN" inspect "$c" | jq -r '.[0].State.MonitorPid'; done)
kiln_priv=$(monitor_kib Private_Dirty "${kiln_monitors[@]}"); kiln_pss=$(monitor_kib Pss "${kiln_monitors[@]}")
"$KILN" rm -f $("$KILN" ps -aq --no-trunc) >/dev/null
echo "== the monitor of a running detached container ($N running; mean per monitor)"
printf '  kiln-monitor  private dirty %5s KiB   pss %5s KiB\n' "$kiln_priv" "$kiln_pss"

if [ "$PODMAN" = 1 ] && command -v podman >/dev/null; then
  podman import "$IMAGES/rootfs.tar.gz" "$TAG" >/dev/null 2>&1 || { echo "podman import failed"; exit 0; }
  for i in $(seq "$N"); do
    podman run -d --name "$TAG-m$i" --network none --runtime runc --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
      "$TAG" sleep 600 >/dev/null 2>&1
  done
  mapfile -t conmons < <(for i in $(seq "$N"); do podman inspect --format '{{.State.ConmonPid}}' "$TAG-m$i" 2>/dev/null; done)
  conmon_priv=$(monitor_kib Private_Dirty "${conmons[@]}"); conmon_pss=$(monitor_kib Pss "${conmons[@]}")
  for i in $(seq "$N"); do podman rm -f -t 0 "$TAG-m$i" >/dev/null 2>&1; done
  printf '  conmon        private dirty %5s KiB   pss %5s KiB   (%s of them)\n' "$conmon_priv" "$conmon_pss" "${#conmons[@]}"
  [ "$conmon_priv" != "?" ] && [ "$kiln_priv" != "?" ] &&
    echo "  kiln-monitor/conmon: private dirty $(echo "$kiln_priv / $conmon_priv" | bc -l | xargs printf '%.2f')x, pss $(echo "$kiln_pss / $conmon_pss" | bc -l | xargs printf '%.2f')x"
fi

if [ "$PODMAN" = 1 ] && command -v podman >/dev/null; then
  podman import "$IMAGES/rootfs.tar.gz" "$TAG" >/dev/null 2>&1 || { echo "podman import failed"; exit 0; }
  # podman's default rlimits exceed this host's hard limits (runc then fails): pass ours.
  podman run --rm --runtime runc --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 "$TAG" true >/dev/null 2>&1 || true
  R=10
  t0=$(now); for _ in $(seq $R); do "$KILN" run --rm busybox true; done; t1=$(now); k=$(ms "$t0" "$t1")
  t0=$(now); for _ in $(seq $R); do podman run --rm --runtime runc --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 "$TAG" true >/dev/null 2>&1; done; t1=$(now); p=$(ms "$t0" "$t1")
  echo "== run --rm IMAGE true, one at a time (mean of $R)"
  printf '  kiln   %5s ms\n  podman %5s ms (runtime runc)\n' "$((k / R))" "$((p / R))"
  echo "  podman/kiln $(echo "$p / $k" | bc -l | xargs printf '%.1f')x"
fi
