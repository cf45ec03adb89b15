#!/usr/bin/env bash
# Where a start's time goes: runs `kiln-runtime run` of /bin/true in a busybox bundle, `kiln run
# --rm IMAGE true` and `kiln run -d IMAGE true` (both --network none) with --debug, turns their
# "stage <monotonic us> <name>" lines into one table per command (the median over the runs of
# each stage's duration: from its line to the next one), and with --perf records 200 starts of
# kiln-runtime run with `perf record -g` and counts their syscalls with `strace -c -f`.
#
# Then kiln run --rm against kiln-runtime run in one hyperfine run (hyperfine installed).
#
#   bench/profile.sh [--runs N] [--perf] [--perf-runs N]     (as root; build kiln first)
set -euo pipefail
usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; }
RUNS=20 PERF=0 PERF_RUNS=200
while [ $# -gt 0 ]; do
  case $1 in
    --runs) RUNS=${2:?--runs needs a number}; shift 2 ;;
    --perf) PERF=1; shift ;;
    --perf-runs) PERF_RUNS=${2:?--perf-runs needs a number}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "profile.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
[[ $RUNS =~ ^[1-9][0-9]*$ && $PERF_RUNS =~ ^[1-9][0-9]*$ ]] || { echo "profile.sh: runs must be positive numbers" >&2; exit 2; }
TOP=$(cd "$(dirname "$0")/.." && pwd)
KR=${KILN_RUNTIME:-$TOP/build/cli/kiln-runtime}
KILN=${KILN:-$TOP/build/cli/kiln}
die() { echo "profile.sh: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "run as root"
[ -x "$KR" ] && [ -x "$KILN" ] || die "build kiln and kiln-runtime first (ninja -C $TOP/build)"
for tool in jq python3; do command -v $tool >/dev/null || die "$tool is missing (tests/install-deps.sh)"; done
if [ "$PERF" = 1 ] && ! command -v perf >/dev/null; then
  apt-get install -y linux-perf >/dev/null || die "perf is missing and apt-get install linux-perf failed"
fi
IMAGES=$(bash "$TOP/tests/fixtures/build-images.sh") || die "fixture images"

W=$(mktemp -d /tmp/kiln-profile.XXXXXX)
TAG=kprof$$
# State (kiln's run root, kiln-runtime's --root) on a tmpfs, as /run is on most distributions
# (bench/many.sh does the same; here /run is on the root ext4). The store stays on disk.
mkdir -p "$W/run"
mount -t tmpfs -o mode=0755 kiln-profile-run "$W/run" || die "mount a tmpfs on $W/run"
export KILN_ROOT=$W/store KILN_RUN_ROOT=$W/run/kiln
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  set +e
  "$KILN" rm -f $("$KILN" ps -aq --no-trunc 2>/dev/null) >/dev/null 2>&1
  for id in "$W/run/rt/$TAG"-*; do [ -e "$id" ] && "$KR" --root "$W/run/rt" delete --force "${id##*/}" >/dev/null 2>&1; done
  find /sys/fs/cgroup -mindepth 2 -maxdepth 4 -depth -type d -name "$TAG-*" -exec rmdir {} + 2>/dev/null
  grep -F "$W" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The bundle bench/start.sh uses: busybox's /bin/true, kiln-runtime's default spec.
R=$W/bundle/rootfs
mkdir -p "$R"/{bin,proc,sys,dev,tmp,etc}
cp /bin/busybox "$R/bin/busybox"
ln -s busybox "$R/bin/true"
echo 'root:x:0:0:root:/root:/bin/sh' > "$R/etc/passwd"
(cd "$W/bundle" && "$KR" spec)
jq '.process.args = ["/bin/true"] | .process.terminal = false | .root.path = "'"$R"'"' "$W/bundle/config.json" > "$W/c.json"
mv "$W/c.json" "$W/bundle/config.json"
# The same bundle with the seccomp profile kiln run applies by default: the runtime's share of
# a kiln run, for the engine's ratio.
mkdir -p "$W/bundle-seccomp"
jq --slurpfile p "$TOP/engine/default_seccomp.json" '.linux.seccomp = $p[0]' "$W/bundle/config.json" > "$W/bundle-seccomp/config.json"
"$KILN" import "$IMAGES/rootfs.tar.gz" busybox:latest >/dev/null
"$KILN" run --rm --network none busybox true  # warm: the init layer, the seccomp cache

# profile NAME CMD...: RUNS runs of CMD (a --debug command line); their stage lines go to W/NAME.N
profile() {
  local name=$1 i; shift
  for i in $(seq "$RUNS"); do
    "$@" 2> "$W/$name.$i" >/dev/null </dev/null || die "$name failed: $(tail -3 "$W/$name.$i")"
  done
}
profile runtime "$KR" --debug --root "$W/run/rt" run --bundle "$W/bundle" "$TAG-1"
profile rm "$KILN" --debug run --rm --network none busybox true
profile detach "$KILN" --debug run -d --network none busybox true
"$KILN" rm -f $("$KILN" ps -aq --no-trunc) >/dev/null

table() { # table TITLE NAME: one markdown table of stage medians over W/NAME.*
  python3 - "$1" "$W/$2" "$RUNS" <<'EOF'
import re, statistics, sys
title, base, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
order, durs, totals = [], {}, []
for i in range(1, runs + 1):
    lines = []
    for line in open(f"{base}.{i}", errors="replace"):
        m = re.search(r"stage (\d+) (.+)$", line.rstrip("\n"))
        if m: lines.append((int(m.group(1)), m.group(2)))
    lines.sort(key=lambda x: x[0])  # stable: equal stamps keep the order they were logged in
    seen = {}
    for (t, name), nxt in zip(lines, lines[1:]):
        seen[name] = seen.get(name, 0) + 1
        key = name if seen[name] == 1 else f"{name} #{seen[name]}"
        if key not in durs: order.append(key); durs[key] = []
        durs[key].append(nxt[0] - t)
    if lines: totals.append(lines[-1][0] - lines[0][0])
total = statistics.median(totals)
print(f"\n{title}: median of {runs} runs, {total / 1000:.2f} ms from the first stage line to the last\n")
print("| stage (begins) | median us | share |")
print("|---|---:|---:|")
for k in order:
    med = statistics.median(durs[k] + [0] * (runs - len(durs[k])))
    print(f"| {k} | {med:.0f} | {100 * med / total:.1f}% |")
EOF
}
echo "Stage durations ($(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)); a stage lasts until the next line"
table "kiln-runtime run (bundle, /bin/true, no seccomp)" runtime
table "kiln run --rm --network none busybox true" rm
table "kiln run -d --network none busybox true (until kiln returns)" detach

# What the engine adds to the runtime: kiln run --rm (overlay, record, /etc files, the spec,
# seccomp, cleanup) against kiln-runtime run of a bundle, in one hyperfine run.
if command -v hyperfine >/dev/null; then
  hyperfine -N --runs 30 --warmup 3 --style none --export-json "$W/rm.json" \
    -n "kiln-runtime run" "$KR --root $W/run/rt run --bundle $W/bundle $TAG-h" \
    -n "kiln run --rm" "$KILN run --rm --network none busybox true" \
    -n "kiln-runtime run, kiln's seccomp profile" "$KR --root $W/run/rt run --bundle $W/bundle-seccomp $TAG-h" \
    >/dev/null 2>&1 || die "hyperfine failed"
  echo; echo "kiln run --rm against kiln-runtime run (hyperfine medians of 30, load $(cut -d' ' -f1-3 /proc/loadavg))"
  jq -r '.results[] | "  \(.command): \(.median * 1000 | . * 100 | round / 100) ms"' "$W/rm.json"
  jq -r '"  kiln run --rm / kiln-runtime run: \(.results[1].median / .results[0].median | . * 100 | round / 100)x"' "$W/rm.json"
  jq -r '"  kiln run --rm / kiln-runtime run with the same seccomp profile: \(.results[1].median / .results[2].median | . * 100 | round / 100)x"' "$W/rm.json"
fi

if [ "$PERF" = 1 ]; then
  loop="for i in \$(seq $PERF_RUNS); do $KR --root $W/run/rt run --bundle $W/bundle $TAG-p\$i || exit 1; done"
  echo; echo "perf record -g over $PERF_RUNS starts of kiln-runtime run (all CPUs, cpu-clock)"
  perf record -q -a -g -e cpu-clock -F 4000 -o "$W/perf.data" -- sh -c "$loop" >/dev/null 2>&1 || die "perf record failed"
  # (|| true: head closing the pipe early is not a failure)
  echo; echo "-- by command (comm), self time (swapper: idle CPU)"
  perf report -i "$W/perf.data" --no-children --sort comm --stdio -g none 2>/dev/null | grep -E '^ +[0-9]' | head -8 || true
  echo; echo "-- kiln-runtime and its init: time in each function and what it calls (children), top 45"
  perf report -i "$W/perf.data" --comm kiln-runtime --children --sort sym --stdio -g none 2>/dev/null |
    grep -E '^ +[0-9]' | head -45 || true
  if command -v strace >/dev/null; then
    echo; echo "-- syscalls of 50 starts (strace -c -f: time in each syscall, all processes)"
    loop50="for i in \$(seq 50); do $KR --root $W/run/rt run --bundle $W/bundle $TAG-s\$i || exit 1; done"
    strace -c -f -S time -o "$W/strace.txt" sh -c "$loop50" >/dev/null 2>&1 || die "strace failed"
    head -25 "$W/strace.txt" || true
  fi
fi
