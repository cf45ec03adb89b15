#!/usr/bin/env bash
# The same Dockerfile and context built by `kiln build` and Debian's `buildah bud --layers` in
# one run: a cold build (every step redone: --no-cache for both, the base image already
# stored), a fully cached rebuild, and a rebuild after changing the file the last COPY takes.
# Medians of $RUNS runs each (default 5). Prints times and kiln/buildah ratios.
#
# The base is the busybox rootfs of the test fixtures (tests/fixtures/build-images.sh), stored
# in both tools as localhost/bench-base:latest. The context: /usr/share/zoneinfo as "deps"
# (~4 MB, ~1300 files), a small app dir. RUN steps have no network (--network none). buildah
# runs its RUN steps with runc (crun refuses this machine's hybrid cgroups) and keeps its
# storage (overlay driver) in a temp dir. Usage: KILN_BUILD=build bench/build.sh [RUNS]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
KILN=${KILN_BUILD:-$top/build}/cli/kiln
RUNS=${1:-5}
[ -x "$KILN" ] || { echo "bench: $KILN not built" >&2; exit 1; }
for tool in buildah runc bc; do
  command -v $tool >/dev/null || { echo "bench: $tool missing (tests/install-deps.sh)" >&2; exit 1; }
done
IMAGES=$(bash "$top/tests/fixtures/build-images.sh")

work=$(mktemp -d /tmp/kiln-bench-build.XXXXXX)
B() { CONTAINERS_CONF=$work/containers.conf buildah --root "$work/b" --runroot "$work/br" --storage-driver overlay "$@"; }
cleanup() {
  set +e
  B rm -a >/dev/null 2>&1
  B rmi -a -f >/dev/null 2>&1
  umount -R "$work/b/overlay" 2>/dev/null
  rm -rf "$work"
  return 0
}
trap cleanup EXIT

mkdir -p "$work/net" "$work/ctx/app"
cat > "$work/containers.conf" <<EOF
[containers]
netns = "none"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$work/events.log"
[network]
network_config_dir = "$work/net"
EOF
export KILN_ROOT=$work/kiln KILN_RUN_ROOT=$work/kiln-run
"$KILN" import "$IMAGES/rootfs.tar.gz" localhost/bench-base:latest >/dev/null
B from --name base scratch >/dev/null
tar -xzf "$IMAGES/rootfs.tar.gz" -C "$(B mount base)"
B umount base >/dev/null
B commit -q base localhost/bench-base:latest >/dev/null
B rm base >/dev/null

cp -a /usr/share/zoneinfo "$work/ctx/deps"
echo 'echo hello from the bench' > "$work/ctx/app/main.sh"
cat > "$work/ctx/Dockerfile" <<'DF'
FROM localhost/bench-base:latest
COPY deps/ /opt/deps/
RUN mkdir -p /opt/gen && i=0 && while [ $i -lt 500 ]; do echo $i > /opt/gen/f$i; i=$((i+1)); done
RUN tar -cf /opt/deps.tar -C /opt deps && rm -rf /opt/gen/f1*
ENV APP=bench
WORKDIR /app
COPY app/ /app/
CMD ["sh", "/app/main.sh"]
DF

now() { date +%s.%N; }
# median VAR cmd...: runs cmd $RUNS times (before each: $PREP if set), stores the median seconds.
median() {
  local var=$1; shift
  local ts=() s
  for _ in $(seq "$RUNS"); do
    [ -n "${PREP:-}" ] && eval "$PREP"
    sync
    s=$(now)
    "$@" > "$work/last.log" 2>&1 || { echo "bench: $* failed: $(tail -5 "$work/last.log")" >&2; exit 1; }
    ts+=("$(echo "$(now) - $s" | bc -l)")
  done
  printf -v "$var" '%.3f' "$(printf '%s\n' "${ts[@]}" | sort -g | sed -n "$(((RUNS + 1) / 2))p")"
}
ratio() { echo "scale=2; $1 / $2" | bc -l; }
kb() { "$KILN" build --network none -q -t bench:1 "$@" "$work/ctx"; }
bb() { B bud --runtime runc --network none --layers -q -t bench:1 "$@" "$work/ctx"; }

kb >/dev/null 2>&1; bb >/dev/null 2>&1  # warm both caches and the page cache
median k_cold kb --no-cache
median b_cold bb --no-cache
kb >/dev/null 2>&1; bb >/dev/null 2>&1
median k_cached kb
median b_cached bb
n=0
PREP='n=$((n + 1)); echo "echo change $n" > "$work/ctx/app/main.sh"'
median k_last kb
median b_last bb
unset PREP

steps=$(grep -c . <(grep -vE '^(#|$)' "$work/ctx/Dockerfile"))
echo "== $steps steps, context $(du -sh "$work/ctx" | cut -f1), medians of $RUNS runs, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-46s %8s s %8s s %6s\n' "" kiln buildah ratio \
  "cold (--no-cache)" "$k_cold" "$b_cold" "$(ratio "$k_cold" "$b_cold")" \
  "fully cached rebuild" "$k_cached" "$b_cached" "$(ratio "$k_cached" "$b_cached")" \
  "rebuild after changing the last COPY's file" "$k_last" "$b_last" "$(ratio "$k_last" "$b_last")"
echo "targets: cached < 0.2 s and <= 0.25x buildah; cold <= 0.7x buildah"
