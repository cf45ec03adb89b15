#!/usr/bin/env bash
# Container start time: `RUNTIME run` of /bin/true in one busybox bundle, kiln-runtime side by
# side with runc and crun in the same hyperfine run, without and with Docker's default
# seccomp profile, and "cold" (each start after 0.5 s of idle). Prints each median, the ratios
# and the seccomp cost per runtime. See bench/README.md.
#
#   bench/start.sh [--runs N] [--quick]        (as root; build kiln-runtime first)
set -euo pipefail

usage() { sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; }
RUNS=100
COLD_RUNS=15
while [ $# -gt 0 ]; do
  case $1 in
    --runs) RUNS=${2:?--runs needs a number}; shift 2 ;;
    --runs=*) RUNS=${1#--runs=}; shift ;;
    --quick) RUNS=20; COLD_RUNS=8; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "start.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "start.sh: --runs wants a positive number, got '$RUNS'" >&2; exit 2; }

TOP=$(cd "$(dirname "$0")/.." && pwd)
KR=${KILN_RUNTIME:-$TOP/build/cli/kiln-runtime}
PROFILE=$TOP/tests/unit/runtime/data/docker-default-seccomp.json
die() { echo "start.sh: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "run as root (containers need it)"
[ -x "$KR" ] || die "no $KR: cmake -S $TOP -B $TOP/build -G Ninja && ninja -C $TOP/build kiln-runtime"
for tool in hyperfine jq unshare; do command -v $tool >/dev/null || die "$tool is missing (tests/install-deps.sh installs it)"; done
[ -x /bin/busybox ] || die "/bin/busybox is missing (apt-get install busybox-static)"
[ -f "$PROFILE" ] || die "no seccomp profile at $PROFILE"

TAG=kbench$$                     # prefix of every container id (and so of every cgroup) we make
KILN_CG_BEFORE=$(ls -d /sys/fs/cgroup/*/kiln 2>/dev/null || true)

# Every runtime runs in the same wrapper: a private mount namespace in which the hybrid layout's
# cgroup2 mount is gone. crun 1.8 refuses the hybrid layout otherwise; wrapping all three keeps
# the comparison fair (the wrapper's own cost is measured and printed too).
PRE=''; mountpoint -q /sys/fs/cgroup/unified && PRE='umount /sys/fs/cgroup/unified && '
wrap() { echo "unshare -m sh -c '${PRE}exec $*'"; }

# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  set +e
  local i id
  for i in "${!names[@]}"; do
    for id in "$W/root-${names[$i]}/$TAG-"*; do
      [ -e "$id" ] || continue; id=${id##*/}
      sh -c "$(wrap "${bins[$i]}" --root "$W/root-${names[$i]}" delete --force "$id")" >/dev/null 2>&1
    done
  done
  find /sys/fs/cgroup -mindepth 2 -maxdepth 4 -depth -type d -name "$TAG-*" -exec rmdir {} + 2>/dev/null
  for d in /sys/fs/cgroup/*/kiln; do   # kiln's parent cgroups, only if this script made them
    [[ $KILN_CG_BEFORE == *"$d"* ]] || rmdir "$d" 2>/dev/null
  done
  grep -F "$W" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l 2>/dev/null
  rm -rf "$W"
  local left
  left=$(grep -F "$W" /proc/self/mountinfo; find /sys/fs/cgroup -maxdepth 4 -type d -name "$TAG-*" 2>/dev/null)
  [ -z "$left" ] || echo "start.sh: could not remove: $left" >&2
}

names=() bins=()
W=$(mktemp -d /tmp/kiln-bench.XXXXXX)
trap cleanup EXIT
trap 'exit 130' INT TERM

# Time a copy of kiln-runtime, so that a rebuild during the run cannot change or break it.
cp "$KR" "$W/kiln-runtime"
names+=(kiln-runtime) bins+=("$W/kiln-runtime")
for rt in runc crun; do
  if command -v $rt >/dev/null; then names+=("$rt"); bins+=("$(command -v $rt)")
  else echo "start.sh: $rt is not installed: skipping its column" >&2; fi
done

# One busybox root filesystem (Debian's busybox-static) and three bundles sharing it.
R=$W/plain/rootfs
mkdir -p "$R"/{bin,proc,sys,dev,tmp,etc}
cp /bin/busybox "$R/bin/busybox"
for app in sh true grep cat; do ln -s busybox "$R/bin/$app"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$R/etc/passwd"
(cd "$W/plain" && "$W/kiln-runtime" spec) || die "kiln-runtime spec failed"
jq '.process.args = ["/bin/true"] | .root.path = "'"$R"'"' "$W/plain/config.json" > "$W/c.json"
mv "$W/c.json" "$W/plain/config.json"
mkdir -p "$W/seccomp" "$W/check"
jq --slurpfile p "$PROFILE" '.linux.seccomp = $p[0]' "$W/plain/config.json" > "$W/seccomp/config.json"
jq '.process.args = ["/bin/grep", "^Seccomp:", "/proc/self/status"]' "$W/seccomp/config.json" > "$W/check/config.json"

cmd() { # cmd INDEX BUNDLE: the benchmarked command line (the id is made unique by the inner $$)
  wrap "${bins[$1]}" --root "$W/root-${names[$1]}" run --bundle "$W/$2" "$TAG-${names[$1]}-\$\$"
}

# Check each runtime once before timing it; a runtime that fails is left out, one whose
# seccomp filter is missing in the container is flagged.
ok=() secflag=()
for i in "${!names[@]}"; do
  if ! out=$(sh -c "$(cmd "$i" plain)" 2>&1); then
    echo "start.sh: ${names[$i]} cannot run the bundle, skipping it: $out" >&2; continue
  fi
  ok+=("$i")
  seccomp=$(sh -c "$(cmd "$i" check)" 2>&1) || seccomp="failed: $seccomp"
  if [[ $seccomp =~ Seccomp:[[:space:]]*2 ]]; then secflag[i]=""
  else secflag[i]=" !"; echo "start.sh: ${names[$i]} with the seccomp profile: filter NOT installed (${seccomp//$'\n'/ })" >&2; fi
done
[ ${#ok[@]} -gt 0 ] || die "no runtime could run the bundle"

bench() { # bench JSON RUNS PREPARE (NAME COMMAND)...: one hyperfine run; prints the medians in ms
  local json=$1 runs=$2 prepare=$3; shift 3
  local args=() ncmd=$(($# / 2))
  [ -n "$prepare" ] && args+=(--prepare "$prepare")
  while [ $# -gt 0 ]; do args+=(-n "$1" "$2"); shift 2; done
  echo "hyperfine: $ncmd commands x $runs runs${prepare:+ (each after: $prepare)}..." >&2
  hyperfine --runs "$runs" --warmup 3 --style none --export-json "$json" "${args[@]}" >/dev/null \
    || die "hyperfine failed (see the check above)"
  jq -r '.results[].median * 1000' "$json"
}

plain=() secc=()
for i in "${ok[@]}"; do plain+=("${names[$i]}" "$(cmd "$i" plain)"); secc+=("${names[$i]}" "$(cmd "$i" seccomp)"); done
plain+=(wrapper "$(wrap /bin/true)")
for i in "${ok[@]}"; do [ "${names[$i]}" = crun ] || plain+=("${names[$i]}" \
  "${bins[$i]} --root $W/root-${names[$i]} run --bundle $W/plain $TAG-${names[$i]}-\$\$"); done
bench "$W/plain.json" "$RUNS" "" "${plain[@]}" > "$W/plain.ms"
bench "$W/seccomp.json" "$RUNS" "" "${secc[@]}" > "$W/seccomp.ms"
# Cold: each start after half a second of idle, as containers are usually started. On cgroup v1
# the first move of a process into a cgroup after idle waits for an RCU grace period (runc and
# crun move the container by pid); back-to-back starts mostly hide that wait.
cold=()
for i in "${ok[@]}"; do cold+=("${names[$i]}" "$(cmd "$i" plain)"); done
bench "$W/cold.json" "$COLD_RUNS" "sleep 0.5" "${cold[@]}" > "$W/cold.ms"
# Peak RSS: GNU time's %M of the wrapper's shell, the largest resident set of any process of the
# start (the runtime, its init, /bin/true; the shell and unshare are ~1 MiB); median of 5.
rss_kib() { # rss_kib INDEX
  local j
  for j in 1 2 3 4 5; do /usr/bin/time -f %M sh -c "$(cmd "$1" plain)" 2>&1 >/dev/null | tail -1; done | sort -n | sed -n 3p
}
RSS=()
for i in "${ok[@]}"; do RSS+=("$(rss_kib "$i")"); done
mapfile -t P < "$W/plain.ms"
mapfile -t S < "$W/seccomp.ms"
mapfile -t C < "$W/cold.ms"

med() { printf '%.2f' "$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
col() { local i; for i in "${!ok[@]}"; do [ "${names[${ok[$i]}]}" = "$1" ] && { echo "$i"; return; }; done; }
k=$(col kiln-runtime) c=$(col crun) r=$(col runc) n=${#ok[@]}

echo
echo "Start of /bin/true in a busybox bundle: hyperfine median of $RUNS runs, in ms ($(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg))"
echo "All runtimes run in the same wrapper: $(wrap RUNTIME ...)"
awk -v n="$(nproc)" '$1 > n { print "(the machine is busy: load above the CPU count makes these numbers noisy)" }' /proc/loadavg
echo
printf '%-14s %10s %12s %14s %10s %14s\n' runtime plain seccomp "seccomp cost" cold "peak RSS KiB"
for i in "${!ok[@]}"; do
  printf '%-14s %10s %12s %14s %10s %14s\n' "${names[${ok[$i]}]}" "$(med "${P[$i]}")" "$(med "${S[$i]}")${secflag[${ok[$i]}]}" \
    "$(awk -v a="${S[$i]}" -v b="${P[$i]}" 'BEGIN { printf "%+.2f", a - b }')" "$(med "${C[$i]}")" "${RSS[$i]}"
done
echo
printf '%-14s %10s %12s %14s %10s %14s\n' ratio plain seccomp "" cold "peak RSS"
[ -n "$k" ] && [ -n "$c" ] && printf '%-14s %10s %12s %14s %10s %14s\n' kiln/crun "$(ratio "${P[$k]}" "${P[$c]}")" "$(ratio "${S[$k]}" "${S[$c]}")" "" "$(ratio "${C[$k]}" "${C[$c]}")" "$(ratio "${RSS[$k]}" "${RSS[$c]}")"
[ -n "$k" ] && [ -n "$r" ] && printf '%-14s %10s %12s %14s %10s %14s\n' kiln/runc "$(ratio "${P[$k]}" "${P[$r]}")" "$(ratio "${S[$k]}" "${S[$r]}")" "" "$(ratio "${C[$k]}" "${C[$r]}")" "$(ratio "${RSS[$k]}" "${RSS[$r]}")"
echo
echo "wrapper alone (unshare -m + umount + exec /bin/true): $(med "${P[$n]}") ms, included in every number above"
for ((j = n + 1; j < ${#P[@]}; j++)); do
  echo "$(jq -r ".results[$j].command" "$W/plain.json") without the wrapper: $(med "${P[$j]}") ms"
done
[[ "${secflag[*]}" == *"!"* ]] && echo "! = the seccomp filter was NOT installed in that runtime's container: its seccomp cost is not real"
exit 0
