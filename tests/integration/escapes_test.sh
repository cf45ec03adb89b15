#!/usr/bin/env bash
# Escapes a hostile image or config tried, each run from inside a real container, with kiln
# and (where the attack applies to an OCI runtime) with runc in the same way: both must hold.
source "$(dirname "$0")/lib.sh"
FIX=$TOP/tests/fixtures
PROBE=$KILN_BUILD/tests/kiln-probe
RUNC=$(command -v runc)

# A runtime under test, by name: kiln (overlay re-exec), kiln-memfd (the memfd fallback), runc.
# Each works from a private copy of its binary, so a successful attack could only hurt the copy.
rt_setup() { # rt_setup NAME -> sets RT (command line) and RT_BIN (the binary to watch)
  mkdir -p "$T/bin"
  case $1 in
    kiln|kiln-memfd) cp "$KR" "$T/bin/kiln-runtime"; RT_BIN=$T/bin/kiln-runtime; OTHER=$KR ;;
    runc) cp "$RUNC" "$T/bin/runc"; RT_BIN=$T/bin/runc; OTHER=$RUNC ;;
  esac
  RT=("$RT_BIN" --root "$STATE-$1")
  # Whatever happens, the test's container goes (ids are $ID-NAME).
  trap 'rt delete -f "$ID-${RT_NAME//-/}" >/dev/null 2>&1; rt delete -f "$ID-$RT_NAME" >/dev/null 2>&1' EXIT
  RT_NAME=$1
  # The same runtime from its installed binary: a running copy of the attacked file would make
  # any write fail with ETXTBSY and hide the result.
  RT_OTHER=("$OTHER" --root "$STATE-$1")
  RT_ENV=()
  [ "$1" == kiln-memfd ] && RT_ENV=(KILN_SEALED_EXE=memfd)
}
rt() { env "${RT_ENV[@]}" "${RT[@]}" "$@"; }

# CVE-2019-5736: while the runtime is a process inside the container (the init until it execs
# the container's process, the joining process of `exec`), whoever holds its /proc/PID/exe
# must not be able to write the runtime's binary, then or after it is gone. A container
# cannot open that link itself (the process is non-dumpable; and on this kernel a script
# whose interpreter is /proc/self/exe fails with ENOENT for kiln and runc alike), so the test
# takes the descriptor from the host while the process is in the container (strace holds the
# joining process at its execve), hands it INTO the container (--preserve-fds), and the
# container writes through it. A private copy of each runtime's binary is the one attacked.

# The pids of the container's cgroup (pids hierarchy) other than its init.
joiners() { # CGROUP-DIR INIT-PID
  grep -vx "$2" "$1/cgroup.procs" 2>/dev/null
}
# Runs COMMAND (an exec into the container) under strace, which holds every execve for 1.5 s;
# meanwhile opens fd 3 of this shell on /proc/PID/exe of the process that joined the container
# (still the runtime, before its execve). Returns once the exec has finished.
hold_exe_of_joiner() { # CGROUP-DIR INIT-PID WHAT COMMAND...
  local cg=$1 init=$2 what=$3 tracer joiner=; shift 3
  strace -f -qq -o /dev/null -e trace=execve -e inject=execve:delay_enter=1500000 "$@" &
  tracer=$!
  for i in $(seq 100); do joiner=$(joiners "$cg" "$init" | head -1); [ -n "$joiner" ] && break; sleep 0.05; done
  [ -n "$joiner" ] || fail "$what: the exec never joined the container"
  exec 3< "/proc/$joiner/exe" || fail "$what: open the joining process's exe"
  echo "    $what: the joining process runs from $(readlink /proc/$joiner/exe)"
  wait $tracer || fail "$what: exec under strace"
}
# Writes through fd 3 from inside the container; prints WROTE or REFUSED.
write_from_inside() { # exec-command-prefix... (the runtime's exec with --preserve-fds 1, up to the id)
  "$@" sh -c 'if { echo PWNED >> /proc/self/fd/3; } 2>/dev/null; then echo WROTE; else echo REFUSED; fi'
}
sealed_exe_check() { # NAME
  rt_setup "$1"
  local id=$ID-${1//-/} cg
  make_bundle b sleep 100
  sum=$(sha256sum "$RT_BIN" | cut -d' ' -f1)
  rt create --bundle b "$id" || fail "$1: create"
  init=$(rt state "$id" | jq .pid)
  # 1. The init, before start, is the runtime inside the container.
  exec 3< "/proc/$init/exe" || fail "$1: open the init's exe"
  echo "    $1: init runs from $(readlink /proc/$init/exe)"
  rt start "$id" || fail "$1: start"
  for i in $(seq 50); do [ "$(readlink /proc/$init/exe)" == "$T/b/rootfs/bin/busybox" ] && break; sleep 0.1; done
  assert_eq "$(write_from_inside "${RT_OTHER[@]}" exec --preserve-fds 1 "$id")" REFUSED "$1: write to the init's old exe"
  exec 3<&-
  # 2. The joining process of exec, held at its execve.
  cg=$(find /sys/fs/cgroup/pids -type d -name "$id" | head -1)
  [ -n "$cg" ] || fail "$1: no pids cgroup"
  hold_exe_of_joiner "$cg" "$init" "$1" env "${RT_ENV[@]}" "${RT[@]}" exec "$id" true
  assert_eq "$(write_from_inside "${RT_OTHER[@]}" exec --preserve-fds 1 "$id")" REFUSED "$1: write to the joining process's exe"
  exec 3<&-
  assert_eq "$(sha256sum "$RT_BIN" | cut -d' ' -f1)" "$sum" "$1: the runtime binary on the host is unchanged"
  rt delete -f "$id"
}
test_cve_2019_5736_sealed_exe_kiln() { sealed_exe_check kiln; }
test_cve_2019_5736_sealed_exe_kiln_memfd() { sealed_exe_check kiln-memfd; }
test_cve_2019_5736_sealed_exe_runc() { sealed_exe_check runc; }

# The same for `kiln exec`, with the monitor killed while the descriptor is held: the write
# must fail then too (ETXTBSY only protected the binary while some copy of it was running).
test_cve_2019_5736_kiln_exec_and_dead_monitor() {
  export KILN_ROOT=$T/store KILN_RUN_ROOT=$T/run
  IMAGES=$(bash "$FIX/build-images.sh") || fail "fixtures"
  mkdir -p "$T/bin"; cp "$KILN" "$T/bin/kiln"; local K=$T/bin/kiln
  "$K" import "$IMAGES/rootfs.tar.gz" busybox:latest >/dev/null || fail import
  sum=$(sha256sum "$K" | cut -d' ' -f1)
  cid=$("$K" run -d --name "$ID" busybox sleep 100) || fail "run"
  init=$("$KR" --root "$KILN_RUN_ROOT/runtime" state "$cid" | jq .pid)
  cg=$(find /sys/fs/cgroup/pids -type d -name "$cid" | head -1)
  hold_exe_of_joiner "$cg" "$init" "kiln exec" "$K" exec "$cid" true
  mon=$(jq -r .monitor_pid "$KILN_RUN_ROOT/containers/$cid/record.json")
  kill -9 "$mon"; sleep 0.2
  # The monitor is gone, the container is not: kiln says so.
  assert_contains "$("$K" ps)" "${cid:0:12}" "ps shows the container running"
  assert_eq "$(write_from_inside "$KR" --root "$KILN_RUN_ROOT/runtime" exec --preserve-fds 1 "$cid")" REFUSED \
    "write to kiln's binary after the monitor died"
  exec 3<&-
  assert_eq "$(sha256sum "$K" | cut -d' ' -f1)" "$sum" "kiln binary unchanged"
  "$K" rm -f "$cid" >/dev/null || fail "rm -f"
}

# CVE-2019-16884 / CVE-2019-19921 class: the image's symlinks decide where procfs lands.
# proc -> sys/kernel/../../P and sys/kernel -> /a/b/c: procfs must never be mounted through
# them, so the masks and the read-only /proc/sys apply, and core_pattern stays the host's.
proc_symlink_attack() { # NAME
  rt_setup "$1"
  make_bundle b sh -c 'echo "|/bin/evil-$$" > /proc/sys/kernel/core_pattern && echo WROTE'
  rmdir b/rootfs/proc; ln -s sys/kernel/../../P b/rootfs/proc
  mkdir -p b/rootfs/sys b/rootfs/a/b/c; ln -s /a/b/c b/rootfs/sys/kernel
  before=$(cat /proc/sys/kernel/core_pattern)
  out=$(rt run --bundle b "$ID-$1" 2>&1); rc=$?
  echo "    $1: rc $rc: $out"
  assert_eq "$(cat /proc/sys/kernel/core_pattern)" "$before" "$1: host core_pattern"
  assert_not_contains "$out" WROTE "$1"
  [ $rc -ne 0 ] || fail "$1: a container whose /proc is a symlink started"
  rt delete -f "$ID-$1" >/dev/null 2>&1; true
}
test_proc_through_symlinks_kiln() {
  proc_symlink_attack kiln
  assert_contains "$out" "symlink" "the error says why"
}
test_proc_through_symlinks_runc() { proc_symlink_attack runc; }

# A mask that cannot be applied fails the start, unless the path is simply absent from a real
# procfs: here there is no procfs at /proc (the spec mounts none), so /proc/kcore must fail.
test_mask_that_cannot_apply_fails_the_start() {
  make_bundle b true
  edit_config b 'del(.mounts[] | select(.destination == "/proc")) | .linux.maskedPaths = ["/proc/kcore"] | .linux.readonlyPaths = []'
  out=$("$KR" --root "$STATE" run --bundle b "$ID" 2>&1); rc=$?
  [ $rc -ne 0 ] || fail "started with a mask it could not apply"
  assert_contains "$out" "/proc/kcore"
  assert_contains "$out" "not procfs"
  # With a real procfs an entry this kernel lacks is fine, and so is a path the image lacks.
  make_bundle c sh -c 'echo ran'
  edit_config c '.linux.maskedPaths += ["/proc/no-such-entry", "/no/such/file"]'
  assert_eq "$("$KR" --root "$STATE" run --bundle c "${ID}c")" ran
}

# Non-namespaced sysctls: kernel.core_pattern from a config.json would change the host's.
sysctl_attack() { # NAME
  rt_setup "$1"
  make_bundle b sh -c 'echo ran'
  edit_config b '.linux.sysctl = {"kernel.core_pattern": "|/tmp/evil"}'
  before=$(cat /proc/sys/kernel/core_pattern)
  out=$(rt run --bundle b "$ID-$1" 2>&1); rc=$?
  echo "    $1: rc $rc: $out"
  assert_eq "$(cat /proc/sys/kernel/core_pattern)" "$before" "$1: host core_pattern"
  [ $rc -ne 0 ] || fail "$1: accepted kernel.core_pattern"
  assert_not_contains "$out" ran
  rt delete -f "$ID-$1" >/dev/null 2>&1; true
}
test_sysctl_core_pattern_refused_kiln() {
  sysctl_attack kiln
  assert_contains "$out" "not a namespaced sysctl"
  # Namespaced ones still work, in the container's own namespaces only.
  make_bundle c sh -c 'cat /proc/sys/kernel/shmmni /proc/sys/net/ipv4/ip_forward'
  edit_config c '.linux.sysctl = {"kernel.shmmni": "1234", "net.ipv4.ip_forward": "1"}'
  host_shmmni=$(cat /proc/sys/kernel/shmmni)
  assert_eq "$("$KR" --root "$STATE" run --bundle c "${ID}c" | tr '\n' ' ')" "1234 1 "
  assert_eq "$(cat /proc/sys/kernel/shmmni)" "$host_shmmni" "host shmmni"
}
test_sysctl_core_pattern_refused_runc() { sysctl_attack runc; }

# kiln run: an image with the probe, for checks a shell cannot make.
probe_image() {
  export KILN_ROOT=$T/store KILN_RUN_ROOT=$T/run
  mkdir -p "$T/pr"; busybox_rootfs "$T/pr"; cp "$PROBE" "$T/pr/bin/kiln-probe"
  tar -C "$T/pr" -czf "$T/pr.tar.gz" . && rm -rf "$T/pr"
  "$KILN" import "$T/pr.tar.gz" probe:latest > /dev/null || fail "import probe image"
}

# io_uring runs its own operations (IORING_OP_SOCKET ...) past seccomp's argument rules:
# docker's current profile and kiln's default block its three syscalls.
test_io_uring_blocked_by_default_profile() {
  probe_image
  out=$("$KILN" run --rm probe kiln-probe io_uring) || fail "run probe"
  assert_contains "$out" "io_uring_setup: EPERM"
  assert_contains "$out" "io_uring_enter: EPERM"
  assert_contains "$out" "io_uring_register: EPERM"
  out=$("$KILN" run --rm --security-opt seccomp=unconfined probe kiln-probe io_uring)
  assert_contains "$out" "io_uring_setup: allowed" "the probe can tell (unconfined)"
}

# uid/gid 4294967295 is "unchanged" to setresuid: it must never mean "stay root".
test_uid_minus_one_refused() {
  make_bundle b sh -c 'id -u'
  for f in uid gid; do
    edit_config b ".process.user = {\"uid\": 0, \"gid\": 0} | .process.user.$f = 4294967295"
    out=$("$KR" --root "$STATE" run --bundle b "$ID" 2>&1) && fail "kiln-runtime ran with $f 4294967295: $out"
    assert_contains "$out" "not a valid id"
    # runc refuses it too ("uids and gids must be in range 0-2147483647").
    out=$("$RUNC" --root "$T/runc-state" run --bundle b "$ID-runc" 2>&1) && fail "runc ran with $f 4294967295: $out"
    "$RUNC" --root "$T/runc-state" delete -f "$ID-runc" >/dev/null 2>&1
  done
  probe_image
  out=$("$KILN" run --rm --user 4294967295 probe kiln-probe ids 2>&1); rc=$?
  assert_eq $rc 125 "kiln run --user 4294967295"
  assert_contains "$out" "not a valid id"
  out=$("$KILN" run --rm --user 1000:4294967295 probe kiln-probe ids 2>&1); assert_eq $? 125
  assert_eq "$("$KILN" run --rm --user 4294967294:4294967294 probe kiln-probe ids)" "uid 4294967294 4294967294 4294967294 gid 4294967294 4294967294 4294967294"
  cid=$("$KILN" run -d probe sleep 100)
  out=$("$KILN" exec -u 4294967295 "$cid" id 2>&1) && fail "kiln exec -u 4294967295 ran: $out"
  assert_contains "$out" "not a valid id"
  "$KILN" rm -f "$cid" > /dev/null
}

# The image's /etc/passwd is read by kiln itself: a FIFO must not hang it, a sparse 1 GiB file
# must not be read into memory; either is refused at once and nothing is left behind.
test_hostile_etc_passwd() {
  export KILN_ROOT=$T/store KILN_RUN_ROOT=$T/run
  for kind in fifo sparse; do
    mkdir -p "$T/r-$kind"; busybox_rootfs "$T/r-$kind"; rm "$T/r-$kind/etc/passwd"
    if [ $kind == fifo ]; then mkfifo "$T/r-$kind/etc/passwd"; else truncate -s 1G "$T/r-$kind/etc/passwd"; fi
    tar -C "$T/r-$kind" -S -czf "$T/$kind.tar.gz" . && rm -rf "$T/r-$kind"
    "$KILN" import "$T/$kind.tar.gz" "$kind:latest" > /dev/null || fail "import $kind"
    out=$(timeout 60 "$KILN" run --rm --user nobody "$kind" true 2>&1); rc=$?
    echo "    $kind: $out"
    assert_eq $rc 125 "$kind passwd: exit status (124 would be a hang)"
    if [ $kind == fifo ]; then assert_contains "$out" "not a regular file"; else assert_contains "$out" "over the limit"; fi
    [ -z "$(ls "$KILN_RUN_ROOT/containers" 2>/dev/null)" ] || fail "$kind: a record was left"
    ! grep -qF "$T" /proc/self/mountinfo || fail "$kind: a mount was left"
  done
}

# A process holding an env secret that dumps core must not write the value to disk (its core
# file would land in the container's upper dir): RLIMIT_CORE 0, unless --ulimit core= says so.
test_env_secret_not_in_core_dump() {
  [ "$(cat /proc/sys/kernel/core_pattern)" == core ] || echo "    (core_pattern is $(cat /proc/sys/kernel/core_pattern): checking the limit only)"
  export KILN_ROOT=$T/store KILN_RUN_ROOT=$T/run
  "$KILN" import "$(bash "$FIX/build-images.sh")/rootfs.tar.gz" busybox:latest > /dev/null || fail import
  printf 'core-dumped-s3cret' | "$KILN" secret create dbpw - > /dev/null || fail "secret create"
  cid=$("$KILN" run -d --secret dbpw,type=env,target=DB_PASSWORD -w /tmp busybox \
    sh -c 'grep "core file" /proc/self/limits; sleep 0.2; kill -SEGV $$')
  for i in $(seq 50); do "$KILN" ps | grep -q "${cid:0:12}" || break; sleep 0.1; done
  assert_contains "$("$KILN" logs "$cid")" "Max core file size        0                    0"
  ! grep -rqa core-dumped-s3cret "$KILN_ROOT/containers/$cid" || fail "the secret is on disk in the container's dirs"
  [ -z "$(find "$KILN_ROOT/containers/$cid" -name 'core*' -type f)" ] || fail "a core file was written"
  "$KILN" rm "$cid" > /dev/null
  # Asked for: the user's limit stands.
  out=$("$KILN" run --rm --secret dbpw,type=env,target=DB_PASSWORD --ulimit core=1048576 busybox grep "core file" /proc/self/limits)
  assert_contains "$out" "1048576"
}

# Image names follow docker's grammar: no path tricks, no 5000-character names.
test_image_names_validated() {
  export KILN_ROOT=$T/store
  IMAGES=$(bash "$FIX/build-images.sh") || fail fixtures
  for bad in '../../../../tmp/x/tag:latest' 'evil:../../x' "$(printf 'a%.0s' $(seq 5000))" 'UPPER:case' 'a b'; do
    out=$("$KILN" import "$IMAGES/rootfs.tar.gz" "$bad" 2>&1); assert_eq $? 125 "import [${bad:0:40}]"
    assert_contains "$out" "invalid image name"
    [ ${#out} -lt 300 ] || fail "the error repeats the whole name (${#out} characters)"
    out=$("$KILN" load -q -i "$IMAGES/multi.docker.tar" --name "$bad" 2>&1); assert_eq $? 125 "load --name [${bad:0:40}]"
    assert_contains "$out" "invalid image name"
  done
  # A docker-save archive whose RepoTags climb out: refused before any layer is stored.
  mkdir -p "$T/x"; tar -C "$T/x" -xf "$IMAGES/multi.docker.tar"
  jq '.[0].RepoTags = ["../../../../tmp/evil:latest"]' "$T/x/manifest.json" > "$T/m" && mv "$T/m" "$T/x/manifest.json"
  tar -C "$T/x" -cf "$T/evil.tar" .
  out=$("$KILN" load -q -i "$T/evil.tar" 2>&1); assert_eq $? 125
  assert_contains "$out" "invalid image name"
  assert_eq "$(ls "$KILN_ROOT/layers" "$KILN_ROOT/images" 2>/dev/null | grep -vc ':$\|^$')" 0 "nothing stored"
  [ ! -e /tmp/evil ] || fail "/tmp/evil exists"
}

# A seccomp profile built to take minutes to compile is refused at once with a clear error;
# one that lists a syscall 30,000 times is compiled as if it listed it once.
test_seccomp_profile_bomb() {
  make_bundle b sh -c 'echo ran'
  python3 - "$T/dup.json" "$T/huge.json" <<'PY'
import json, sys
dup = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdirat"] * 30000, "action": "SCMP_ACT_ERRNO"}]}
huge = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
    {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 1, "value": i, "op": "SCMP_CMP_EQ"}]} for i in range(5000)]}
json.dump(dup, open(sys.argv[1], "w")); json.dump(huge, open(sys.argv[2], "w"))
PY
  jq --slurpfile p "$T/dup.json" '.linux.seccomp = $p[0]' b/config.json > "$T/c" && mv "$T/c" b/config.json
  assert_eq "$("$KR" --root "$STATE" run --bundle b "$ID")" ran
  jq --slurpfile p "$T/huge.json" '.linux.seccomp = $p[0]' b/config.json > "$T/c" && mv "$T/c" b/config.json
  out=$("$KR" --root "$STATE" run --bundle b "$ID" 2>&1) && fail "a 5000-rule profile ran"
  assert_contains "$out" "distinct rules"
  [ -z "$(ls "$STATE" | grep -v seccomp-cache)" ] || fail "state left: $(ls "$STATE")"
}

run_tests
