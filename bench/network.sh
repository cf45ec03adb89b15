#!/usr/bin/env bash
# What a network costs a container start: `kiln run --rm IMAGE true` on the default bridge
# network (netavark: bridge, veth, address, iptables NAT) against kiln's own `--network none`
# and against `podman run --rm --network bridge` (netavark too; runtime runc), in one hyperfine
# run, medians and ratios. Twice: with the bridge made and removed by every run (nothing else
# on the network: the first container makes the bridge, the last one's teardown deletes it),
# and "warm", with one long-running container on each tool's default network keeping its
# bridge up (the usual case on a host that serves anything).
#
#   bench/network.sh [--runs N] [--no-podman]     (as root; build kiln first)
set -euo pipefail
RUNS=30; PODMAN=1
while [ $# -gt 0 ]; do
  case $1 in
    --runs) RUNS=${2:?--runs needs a number}; shift 2 ;;
    --no-podman) PODMAN=0; shift ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "network.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
TOP=$(cd "$(dirname "$0")/.." && pwd)
KILN=${KILN:-$TOP/build/cli/kiln}
die() { echo "network.sh: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "run as root"
[ -x "$KILN" ] || die "no $KILN: ninja -C $TOP/build kiln"
command -v hyperfine >/dev/null || die "hyperfine missing (tests/install-deps.sh)"
IMAGES=$(bash "$TOP/tests/fixtures/build-images.sh") || die "fixture images"
command -v podman >/dev/null || PODMAN=0

W=$(mktemp -d /tmp/kiln-netbench.XXXXXX)
TAG=knet$$
export KILN_ROOT=$W/store KILN_RUN_ROOT=$W/run
PODMAN_RUN="podman run --rm --runtime runc --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --network bridge"
cleanup() {
  set +e
  "$KILN" rm -f $("$KILN" ps -aq --no-trunc 2>/dev/null) >/dev/null 2>&1
  podman rm -f "$TAG-keep" >/dev/null 2>&1
  podman rmi -f "$TAG" >/dev/null 2>&1
  grep -F "$W" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT

"$KILN" import "$IMAGES/rootfs.tar.gz" busybox:latest >/dev/null
"$KILN" run --rm busybox true   # warm: init layer, seccomp cache
cmds=(-n "kiln --network none" "$KILN run --rm --network none busybox true"
      -n "kiln bridge" "$KILN run --rm busybox true")
if [ "$PODMAN" = 1 ]; then
  podman import "$IMAGES/rootfs.tar.gz" "$TAG" >/dev/null 2>&1 || die "podman import"
  $PODMAN_RUN "$TAG" true >/dev/null 2>&1 || die "podman run --network bridge fails here"
  cmds+=(-n "podman --network bridge" "$PODMAN_RUN $TAG true")
fi

median() { jq -r --arg n "$2" '.results[] | select(.command == $n) | .median * 1000' "$1"; }
report() { # report JSON
  local none br pod
  none=$(median "$1" "kiln --network none"); br=$(median "$1" "kiln bridge")
  printf '  %-26s %8.1f ms\n' "kiln --network none" "$none" "kiln (default bridge)" "$br"
  printf '  %-26s %8.1f ms\n' "network set-up + teardown" "$(echo "$br - $none" | bc -l)"
  if [ "$PODMAN" = 1 ]; then
    pod=$(median "$1" "podman --network bridge")
    printf '  %-26s %8.1f ms\n' "podman --network bridge" "$pod"
    printf '  %-26s %8.2fx\n' "kiln bridge / podman" "$(echo "$br / $pod" | bc -l)"
  fi
}

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $RUNS runs each (medians)"
echo "== cold bridge (each run makes and removes it)"
hyperfine -N --warmup 2 --runs "$RUNS" --export-json "$W/cold.json" "${cmds[@]}" >/dev/null 2>&1 || die "hyperfine failed"
report "$W/cold.json"

echo "== warm bridge (one long-running container on each default network)"
"$KILN" run -d --name keep busybox sleep 3600 >/dev/null
[ "$PODMAN" = 1 ] && podman run -d --name "$TAG-keep" --runtime runc --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
  --network bridge "$TAG" sleep 3600 >/dev/null
hyperfine -N --warmup 2 --runs "$RUNS" --export-json "$W/warm.json" "${cmds[@]}" >/dev/null 2>&1 || die "hyperfine failed"
report "$W/warm.json"
