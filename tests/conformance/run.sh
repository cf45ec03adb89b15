#!/usr/bin/env bash
# The OCI runtime-tools validation suite (the conformance programs runc, crun and youki run in
# their CI), against kiln-runtime and runc in the same run, one program after the other.
#   usage: tests/conformance/run.sh [PROGRAM...]        (as root; tests/run.sh calls it)
#
# A program passes when it exits 0 with at least one `ok` and no `not ok` (a skipped assert,
# `ok N # skip`, is not an ok). One that exits 0 having asserted nothing (`1..0`: the hook
# programs, and the _fail programs when the runtime refuses the config as they want) does not
# count as a pass: it shows as empty-ok when it printed no diagnostic (what it checks held),
# empty-diag when it printed one (its "error": says what it found).
# The run fails when kiln fails a program runc passes, when a
# program listed in passing.txt stops passing, or when kiln leaves anything behind (a mount, a
# cgroup in any hierarchy, a process, a state dir). What runc leaves is reported, then removed.
#
# Env: KILN_BUILD (default build/), RUNC (default: runc in PATH),
#      KILN_CONFORMANCE_TARBALL (default ../shared/conformance/runtime-tools-260e151.tar.gz),
#      KILN_CONFORMANCE_TIMEOUT (seconds per program, default 120).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=$(cd "${KILN_BUILD:-$top/build}" && pwd)
KR=$build/cli/kiln-runtime
RUNC=${RUNC:-$(command -v runc || true)}
tarball=${KILN_CONFORMANCE_TARBALL:-$top/../shared/conformance/runtime-tools-260e151.tar.gz}
limit=${KILN_CONFORMANCE_TIMEOUT:-120}
work=$build/conformance
passing_list=$here/passing.txt

die() { echo "conformance: $*" >&2; exit 2; }
[ "$(id -u)" = 0 ] || die "must run as root"
[ -x "$KR" ] || die "no kiln-runtime at $KR (build first)"
[ -x "$RUNC" ] || die "no runc (tests/install-deps.sh installs it; or set RUNC)"

t0=$(date +%s)
bash "$here/build_suite.sh" "$tarball" "$work" || die "could not build the suite"
t_built=$(date +%s)
suite=$work/runtime-tools

programs=()
for t in "$suite"/validation/*/*.t; do
  name=$(basename "$t" .t)
  if [ $# -gt 0 ] && [[ " $* " != *" $name "* ]]; then continue; fi
  programs+=("$name")
done
[ ${#programs[@]} -gt 0 ] || die "no validation program matches: $*"

# Each runtime gets a private state root through a wrapper (the programs call $RUNTIME with
# runc's command line and no --root), each program run its own TMPDIR for its bundles.
run=$(mktemp -d /tmp/kiln-conformance.XXXXXX)
logs=$work/logs
rm -rf "$logs" && mkdir -p "$logs" "$run/bin"
for rt in kiln runc; do
  bin=$KR; [ $rt = runc ] && bin=$RUNC
  mkdir -p "$run/root.$rt"
  printf '#!/bin/sh\nexec %q --root %q "$@"\n' "$bin" "$run/root.$rt" > "$run/bin/$rt"
  chmod +x "$run/bin/$rt"
done

# What a program run can leave on the host: mounts, cgroup dirs in every hierarchy. Parents
# that a runtime makes as mkdir -p does are not a container's leftovers when they are empty:
# kiln's kiln/ (shared by its containers, like dockerd's docker/) and testdir/cgrouptest/, the
# parents of the suite's relative cgroupsPath testdir/cgrouptest/container (runc leaves them too).
shared_cgroup_parents='/kiln|/testdir|/testdir/cgrouptest'
host_snapshot() {
  {
    awk '{print "mount " $5}' /proc/self/mountinfo
    find /sys/fs/cgroup/*/ -mindepth 1 -type d 2>/dev/null | sed 's/^/cgroup /'
  } | LC_ALL=C sort -u
}
# The leftovers (new lines of host_snapshot) without empty shared parents.
without_shared_parents() {
  local kind path
  while read -r kind path; do
    if [ "$kind" = cgroup ] && [[ "$path" =~ ($shared_cgroup_parents)$ ]] &&
      [ -z "$(find "$path" -mindepth 1 -maxdepth 1 -type d)" ] && [ ! -s "$path/cgroup.procs" ]; then
      rmdir "$path" 2>/dev/null
      continue
    fi
    echo "$kind $path"
  done
}
container_ids() { "$run/bin/$1" list --format json 2>/dev/null | jq -r '.[]?.id' 2>/dev/null; }
# Processes of this run: a runtime still running with our --root, or a process whose root is
# one of our bundles (a container without a mount namespace of its own, or a leaked helper).
run_processes() {
  local p
  for p in /proc/[0-9]*; do
    [ "${p#/proc/}" = $$ ] && continue
    if { tr '\0' ' ' < "$p/cmdline"; } 2>/dev/null | grep -qF "$run/"; then echo "${p#/proc/}"; continue; fi
    case "$(readlink "$p/root" 2>/dev/null)" in "$run"/*) echo "${p#/proc/}" ;; esac
  done
}

# rm -rf that never descends into a mount (a leaked bind mount could be the host's own tree).
safe_rm() {
  awk -v d="$1/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null
  rm -rf --one-file-system "$1"
}

declare -A ok notok res
left_kiln=()
run_one() { # run_one RUNTIME PROGRAM
  local rt=$1 p=$2 tmp=$run/tmp.$1.$2 log=$logs/$1.$2.tap rc before left id
  mkdir -p "$tmp"
  before=$(host_snapshot)
  # They read ./runtimetest and ./rootfs-amd64.tar.gz (the suite's busybox) from their cwd.
  (cd "$suite" && TMPDIR=$tmp RUNTIME=$run/bin/$rt timeout -k 5 "$limit" "$suite/validation/$p/$p.t") \
    > "$log" 2>&1 < /dev/null
  rc=$?
  ok[$rt.$p]=$(grep -E '^ok ' "$log" | grep -civ '# skip')
  notok[$rt.$p]=$(grep -c '^not ok' "$log")
  if [ $rc -eq 0 ] && [ "${ok[$rt.$p]}" -gt 0 ] && [ "${notok[$rt.$p]}" -eq 0 ]; then res[$rt.$p]=pass
  elif [ $rc -eq 0 ] && [ "${notok[$rt.$p]}" -eq 0 ]; then
    # These programs report a violation only as a YAML diagnostic ("error": ...).
    if grep -q '"error":' "$log"; then res[$rt.$p]=empty-diag; else res[$rt.$p]=empty-ok; fi
  elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then res[$rt.$p]=timeout
  else res[$rt.$p]=fail; fi
  # A program that failed half-way may leave its container: delete it as a client would, then
  # whatever is still there is the runtime's leak.
  for id in $(container_ids "$rt"); do "$run/bin/$rt" delete --force "$id" >/dev/null 2>&1; done
  left=$(LC_ALL=C comm -13 <(echo "$before") <(host_snapshot) | LC_ALL=C sort -r | without_shared_parents)
  left+=$(ls -A "$run/root.$rt" | grep -vx 'seccomp-cache' | sed 's/^/\nstate dir /')
  left+=$(run_processes | sed 's/^/\nprocess /')
  left=$(echo "$left" | sed '/^$/d')
  if [ -n "$left" ]; then
    echo "$left" | sed "s/^/  $rt $p left behind: /" | head -20
    [ "$rt" = kiln ] && left_kiln+=("$p")
    # Remove it so the next program starts clean: processes, mounts (deepest first), cgroups.
    run_processes | xargs -r kill -9 2>/dev/null
    sleep 0.2
    echo "$left" | awk '$1 == "mount" {print $2}' | grep -F "$run/" | sort -r | xargs -r -n1 umount -l 2>/dev/null
    echo "$left" | awk '$1 == "cgroup" {print $2}' | sort -r | xargs -r -n1 rmdir 2>/dev/null
    rm -rf "${run:?}/root.$rt"/* 2>/dev/null
  fi
  safe_rm "$tmp"
}

# A program that fails is run once more: some asserts race their own containers (killsig reads
# the container's state while the signal is on its way). A pass on the second try is shown as
# pass*, listed after the table, and counts as a pass.
retried=()
for p in "${programs[@]}"; do
  for rt in kiln runc; do
    run_one "$rt" "$p"
    if [ "${res[$rt.$p]}" = fail ]; then
      run_one "$rt" "$p"
      [ "${res[$rt.$p]}" = pass ] && retried+=("$rt.$p") && res[$rt.$p]=pass*
    fi
  done
done
t_ran=$(date +%s)

# --- report --------------------------------------------------------------------------------
declare -A listed
while read -r p; do [ -n "$p" ] && listed[$p]=1; done < <(sed 's/#.*//; s/[[:space:]]//g' "$passing_list" 2>/dev/null)
kp=0 rp=0 ko=0 kn=0 ro=0 rn=0 bad=() newly=()
printf '\n%-34s %5s %7s %-10s | %5s %7s %-10s\n' PROGRAM "kiln" "not-ok" "" "runc" "not-ok" ""
for p in "${programs[@]}"; do
  printf '%-34s %5s %7s %-10s | %5s %7s %-10s\n' "$p" "${ok[kiln.$p]}" "${notok[kiln.$p]}" "${res[kiln.$p]}" \
    "${ok[runc.$p]}" "${notok[runc.$p]}" "${res[runc.$p]}"
  ko=$((ko + ok[kiln.$p])) kn=$((kn + notok[kiln.$p])) ro=$((ro + ok[runc.$p])) rn=$((rn + notok[runc.$p]))
  [ "${res[kiln.$p]#pass}" != "${res[kiln.$p]}" ] && res[kiln.$p]=pass && kp=$((kp + 1))
  [ "${res[runc.$p]#pass}" != "${res[runc.$p]}" ] && res[runc.$p]=pass && rp=$((rp + 1))
  if [ "${res[kiln.$p]}" != pass ]; then
    if [ "${res[runc.$p]}" = pass ]; then bad+=("$p (runc passes it)")
    elif [ -n "${listed[$p]:-}" ]; then bad+=("$p (in passing.txt)"); fi
  elif [ -z "${listed[$p]:-}" ]; then newly+=("$p"); fi
done
printf '%-34s %5s %7s %-10s | %5s %7s %-10s\n' "TOTAL: ${#programs[@]} programs" "$ko" "$kn" "$kp pass" "$ro" "$rn" "$rp pass"
[ ${#retried[@]} -gt 0 ] && echo "conformance: passed on the second try (pass*): ${retried[*]}"
echo "conformance: suite build $((t_built - t0)) s, run $((t_ran - t_built)) s; TAP logs in $logs"
[ ${#newly[@]} -gt 0 ] && echo "conformance: kiln now passes (add to tests/conformance/passing.txt): ${newly[*]}"

for entry in "${bad[@]}"; do
  p=${entry%% *}
  echo; echo "---- kiln: $entry, TAP (first 60 lines):"
  head -n 60 "$logs/kiln.$p.tap" | cut -c1-300
done
for p in "${left_kiln[@]}"; do bad+=("$p (kiln left something behind)"); done
safe_rm "$run"
if [ ${#bad[@]} -gt 0 ]; then
  echo; echo "conformance FAILED:"; printf '  %s\n' "${bad[@]}"
  exit 1
fi
echo "conformance: kiln passes $kp of ${#programs[@]} programs, runc $rp"
