#!/usr/bin/env bash
# Faults: every failpoint (common/failpoint.hpp; this suite needs a KILN_FAILPOINTS=ON build,
# which tests/run.sh makes) made to kill the process or fail its step, and kills from outside
# at random moments. After each: the state tells the truth, the next command (delete --force,
# ps -a, rm -f, a run with the same name, a load of the same image) works and cleans what the
# dead one left, `kiln system check` finds nothing, and nothing is left on the host (mounts,
# cgroups in any hierarchy, processes, state dirs, pid files).
. "$(dirname "$0")/lib.sh"
FIX=$TOP/tests/fixtures
IMAGES=$(bash "$FIX/build-images.sh") || { echo "fixture build failed" >&2; exit 1; }

RUNTIME_POINTS="create-after-intent create-after-cgroup launch-after-clone launch-after-id-maps
  init-after-cgroup-join init-mid-mount-plan@3 init-before-pivot create-before-state-write create-after-state-write"
DELETE_POINTS="delete-after-kill delete-before-remove"
ENGINE_POINTS="engine-after-record-create engine-after-rootfs-mount monitor-before-report"
STORE_POINTS="store-mid-extract@5 store-before-blob-rename store-before-layer-rename store-before-image-write"

have_failpoints() { grep -q "kiln-failpoint" "$KR"; }
require_failpoints() { have_failpoints || fail "this build has no failpoints: configure with -DKILN_FAILPOINTS=ON"; }

# The point's name without its @N.
point_name() { echo "${1%@*}"; }
# kill / error actions of a point spelled NAME[@N]: NAME:kill[@N], NAME:error=EIO[@N].
arm() { # arm POINT ACTION
  local name=${1%@*} nth=""
  [[ "$1" == *@* ]] && nth="@${1#*@}"
  echo "$name:$2$nth"
}

# Nothing of container $1 anywhere: state dir, cgroup dirs, mounts, processes, pid file.
assert_container_gone() { # assert_container_gone ID [PIDFILE]
  local id=$1
  [ ! -e "$STATE/$id" ] || fail "$id: state dir left: $(ls -a "$STATE/$id")"
  local cg; cg=$(find /sys/fs/cgroup -maxdepth 4 -type d -name "$id" 2>/dev/null)
  [ -z "$cg" ] || fail "$id: cgroups left: $cg"
  ! grep -qF "$T/" /proc/self/mountinfo || fail "$id: mounts left: $(grep -F "$T/" /proc/self/mountinfo | awk '{print $5}')"
  local i; for i in $(seq 50); do pgrep -f -- " $id\$" >/dev/null || break; sleep 0.05; done
  ! pgrep -f -- " $id\$" >/dev/null || fail "$id: processes left: $(pgrep -af -- " $id\$")"
  [ -z "${2:-}" ] || [ ! -e "$2" ] || fail "$id: pid file left"
}

test_failpoints_are_reached() {
  require_failpoints
  make_bundle "$T/b" sleep 100
  # (files, not $(...): the init keeps the output open until it execs)
  KILN_FAILPOINT_LIST=1 "$KR" --root "$STATE" create --bundle "$T/b" "$ID" 2>"$T/points" >/dev/null
  KILN_FAILPOINT_LIST=1 "$KR" --root "$STATE" delete --force "$ID" 2>>"$T/points" >/dev/null
  out=$(cat "$T/points")
  for p in $RUNTIME_POINTS $DELETE_POINTS; do
    assert_contains "$out" "kiln-failpoint: $(point_name "$p")" "failpoint $p not reached"
  done
  assert_container_gone "$ID"
}

# Each create step killed (kill -9 of kiln-runtime itself, or of the init for init-*) and
# failed (an injected errno): create fails, `state` says stopped or "does not exist", and
# delete --force leaves nothing.
test_runtime_create_failpoints() {
  require_failpoints
  make_bundle "$T/b" sleep 100
  local n=0
  for p in $RUNTIME_POINTS; do
    for action in kill error=ENOSPC; do
      n=$((n + 1)); local id=$ID-$n
      KILN_FAILPOINT=$(arm "$p" "$action") "$KR" --root "$STATE" create --bundle "$T/b" --pid-file "$T/$id.pid" "$id" \
        >"$T/out" 2>&1 && fail "create with $p:$action succeeded"
      if [[ $action == error* ]]; then
        assert_contains "$(cat "$T/out")" "No space left on device" "$p:$action: the injected errno"
      fi
      # An init whose create died notices on its own and exits; give it a bounded moment.
      local status=""
      for _ in $(seq 40); do
        st=$("$KR" --root "$STATE" state "$id" 2>&1)
        [[ "$st" == *"does not exist"* ]] && { status=gone; break; }
        status=$(echo "$st" | jq -r .status) || { status="unreadable: $st"; break; }
        [ "$status" == stopped ] && break
        sleep 0.05
      done
      "$KR" --root "$STATE" delete --force "$id" || fail "$p:$action: delete --force"
      [[ "$status" == gone || "$status" == stopped ]] || fail "$p:$action: state says $status 2 s after create died"
      assert_container_gone "$id" "$T/$id.pid"
    done
  done
}

test_runtime_delete_failpoints() {
  require_failpoints
  make_bundle "$T/b" sleep 100
  local n=0
  for p in $DELETE_POINTS; do
    for action in kill error; do
      n=$((n + 1)); local id=$ID-$n
      "$KR" --root "$STATE" create --bundle "$T/b" --pid-file "$T/$id.pid" "$id" || fail create
      "$KR" --root "$STATE" start "$id" || fail start
      KILN_FAILPOINT=$(arm "$p" "$action") "$KR" --root "$STATE" delete --force "$id" 2>/dev/null &&
        fail "delete with $p:$action succeeded"
      status=$("$KR" --root "$STATE" state "$id" | jq -r .status)
      assert_eq "$status" stopped "$p:$action: state after a failed delete"
      "$KR" --root "$STATE" delete --force "$id" || fail "$p:$action: second delete --force"
      assert_container_gone "$id" "$T/$id.pid"
    done
  done
}

# kill -9 from outside, 0-15 ms into create (a client timing out, the OOM killer), 30 times.
test_runtime_create_killed_from_outside() {
  make_bundle "$T/b" sleep 100
  for n in $(seq 30); do
    local id=$ID-$n
    "$KR" --root "$STATE" create --bundle "$T/b" --pid-file "$T/$id.pid" "$id" >/dev/null 2>&1 &
    local pid=$!
    sleep "0.00$((RANDOM % 16))"
    kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
    st=$("$KR" --root "$STATE" state "$id" 2>&1)
    if [[ "$st" != *"does not exist"* ]]; then
      status=$(echo "$st" | jq -r .status) || fail "state: $st"
      [[ "$status" == stopped || "$status" == created ]] || fail "try $n: state says $status"
    fi
    "$KR" --root "$STATE" delete --force "$id" || fail "try $n: delete --force"
    assert_container_gone "$id" "$T/$id.pid"
  done
}

# An init whose create was killed after the clone does not wait on its fifo forever.
test_runtime_init_exits_when_create_dies() {
  require_failpoints
  make_bundle "$T/b" sleep 100
  KILN_FAILPOINT=create-after-state-write:kill "$KR" --root "$STATE" create --bundle "$T/b" "$ID" && fail "create succeeded"
  pid=$(jq -r .pid "$STATE/$ID/state.json")
  for i in $(seq 100); do [ -d /proc/$pid ] && [ "$(awk '{print $3}' /proc/$pid/stat 2>/dev/null)" != Z ] || break; sleep 0.02; done
  [ ! -d /proc/$pid ] || [ "$(awk '{print $3}' /proc/$pid/stat)" == Z ] || fail "the init $pid still runs"
  assert_eq "$("$KR" --root "$STATE" state "$ID" | jq -r .status)" stopped
  "$KR" --root "$STATE" delete "$ID" || fail "delete of the stopped container"
  assert_container_gone "$ID"
}

# --- kiln ---
kiln_setup() {
  export KILN_ROOT=$T/store KILN_RUN_ROOT=$T/run
  "$KILN" import "$IMAGES/rootfs.tar.gz" busybox:latest >/dev/null || fail "import busybox"
}
assert_kiln_clean() {
  [ -z "$(ls "$KILN_RUN_ROOT/containers" 2>/dev/null)" ] || fail "records left: $(ls "$KILN_RUN_ROOT/containers")"
  [ -z "$(ls "$KILN_RUN_ROOT/names" 2>/dev/null)" ] || fail "names left: $(ls "$KILN_RUN_ROOT/names")"
  [ -z "$(ls "$KILN_RUN_ROOT/runtime" 2>/dev/null | grep -v seccomp-cache)" ] || fail "runtime state left"
  [ -z "$(ls "$KILN_ROOT/containers" 2>/dev/null | grep -v '^\.init$')" ] || fail "container dirs left: $(ls "$KILN_ROOT/containers")"
  [ -z "$(find "$KILN_ROOT/refs" -type f 2>/dev/null)" ] || fail "image pins left: $(find "$KILN_ROOT/refs" -type f)"
  local m; m=$(grep -F "$T" /proc/self/mountinfo | awk '{print $5}' | grep -vx "$T/small")
  [ -z "$m" ] || fail "mounts left: $m"
}
# kiln system check finds nothing.
assert_check_ok() {
  out=$("$KILN" system check 2>&1) || fail "system check: $out"
  assert_eq "$out" ok "system check"
}

# Each step of `kiln run -d` (and of the runtime inside its monitor) killed and failed: the
# run fails, then ps -a works, rm -f and a new run with the same name succeed, system check is
# clean, and after rm nothing is left.
test_kiln_run_failpoints() {
  require_failpoints
  kiln_setup
  local n=0
  for p in $ENGINE_POINTS $RUNTIME_POINTS; do
    for action in kill error; do
      n=$((n + 1))
      for mode in -d fg; do
        local name=fp$n$mode flag=""; [ "$mode" == -d ] && flag=-d
        [ "$mode" == fg ] && [ "$p" == monitor-before-report ] && continue
        KILN_FAILPOINT=$(arm "$p" "$action") timeout 20 "$KILN" run $flag --name "$name" busybox sleep 100 >"$T/out" 2>&1
        rc=$?
        [ $rc -ne 0 ] || fail "run with $p:$action ($mode) succeeded"
        [ $rc -ne 124 ] || fail "run with $p:$action ($mode) hung"
        "$KILN" ps -a >"$T/ps" 2>&1 || fail "$p:$action ($mode): ps -a: $(cat "$T/ps")"
        "$KILN" rm -f "$name" >/dev/null 2>&1
        out=$("$KILN" run --rm --name "$name" busybox echo again 2>&1) || fail "$p:$action ($mode): run again: $out"
        assert_eq "$out" again "$p:$action ($mode): run again"
        "$KILN" rm -f "$name" >/dev/null 2>&1
        assert_check_ok
        assert_kiln_clean
      done
    done
  done
}

test_kiln_rm_failpoint() {
  require_failpoints
  kiln_setup
  for action in kill error; do
    "$KILN" run -d --name rmfp busybox sleep 100 >/dev/null || fail "run -d"
    KILN_FAILPOINT=engine-during-rm:$action "$KILN" rm -f rmfp >/dev/null 2>&1 && fail "rm with engine-during-rm:$action succeeded"
    "$KILN" ps -a >/dev/null || fail "ps -a"
    "$KILN" rm -f rmfp >/dev/null || fail "second rm -f"
    assert_check_ok
    assert_kiln_clean
  done
}

# The monitor of a running container is SIGKILLed: the container runs on (stop/rm work), and
# once it exits the next command records it, once: the status when the kernel still has it,
# else "exited, status unknown because the monitor died".
test_kiln_monitor_killed() {
  require_failpoints
  kiln_setup
  KILN_FAILPOINT=engine-after-monitor-start:kill "$KILN" run -d --name orphan busybox sh -c 'sleep 1; exit 3' >/dev/null ||
    fail "run -d"
  assert_contains "$("$KILN" ps)" orphan "running without its monitor"
  sleep 1
  : > "$T/notes"
  for i in $(seq 50); do "$KILN" ps 2>>"$T/notes" | grep -q orphan || break; sleep 0.1; done
  "$KILN" ps -a >/dev/null 2>>"$T/notes"
  first=$(cat "$T/notes")
  assert_contains "$first" "container orphan: exited" "said by the first command after the end"
  assert_eq "$(grep -c 'container orphan' "$T/notes")" 1 "said once"
  second=$("$KILN" ps -a 2>&1)
  assert_not_contains "$second" "kiln: container orphan" "said once"
  state=$("$KILN" inspect orphan | jq -c '.[0].State')
  assert_eq "$(echo "$state" | jq -r .Status)" exited
  if [[ "$first" == *"status unknown"* ]]; then
    assert_eq "$(echo "$state" | jq -r .Error)" "status unknown because the monitor died"
    assert_contains "$second" "Exited (unknown)"
  else
    assert_eq "$(echo "$state" | jq -r .ExitCode)" 3
  fi
  assert_check_ok
  # a still-running one: stop and rm -f work
  KILN_FAILPOINT=engine-after-monitor-start:kill "$KILN" run -d --name orphan2 busybox sleep 100 >/dev/null || fail "run -d"
  "$KILN" stop -t 1 orphan2 >/dev/null || fail "stop"
  "$KILN" ps -a >/dev/null 2>&1
  "$KILN" rm -f orphan orphan2 >/dev/null || fail "rm -f"
  assert_check_ok
  assert_kiln_clean
}

# --- the store ---
store_files() { (cd "$1" && find . -path ./tmp -prune -o -print | grep -v -e '\.lock$' -e '^\./lock$' | sort); }

test_store_failpoints() {
  require_failpoints
  export KILN_ROOT=$T/store KILN_RUN_ROOT=$T/run
  "$KILN" import "$IMAGES/rootfs.tar.gz" other:latest >/dev/null || fail "import"
  before=$(store_files "$KILN_ROOT")
  for p in $STORE_POINTS; do
    for action in kill error=ENOSPC; do
      KILN_FAILPOINT=$(arm "$p" "$action") "$KILN" load -q -i "$IMAGES/oci" --name test/multi:latest >"$T/out" 2>&1 && fail "load with $p:$action succeeded"
      assert_not_contains "$("$KILN" images)" multi "$p:$action: a half image is listed"
      if [[ $action == error* ]]; then
        assert_contains "$(cat "$T/out")" "No space left on device" "$p:$action: the error"
        assert_eq "$(store_files "$KILN_ROOT")" "$before" "$p:$action: the store is not as it was"
      fi
      "$KILN" load -q -i "$IMAGES/oci" --name test/multi:latest >/dev/null || fail "$p:$action: load again"
      assert_check_ok
      # unpack copies the stored layer dirs; the blobs (push, save) are checked by digest here.
      "$KILN" unpack test/multi:latest "$T/unpacked" >/dev/null || fail "$p:$action: unpack"
      rm -rf "$T/unpacked"
      for b in "$KILN_ROOT"/blobs/sha256/*; do
        [ "$(sha256sum < "$b" | cut -d' ' -f1)" = "${b##*/}" ] || fail "$p:$action: blob ${b##*/} does not match its digest"
      done
      "$KILN" rmi test/multi:latest >/dev/null || fail "rmi"
      assert_eq "$(store_files "$KILN_ROOT")" "$before" "$p:$action: rmi leaves the store as it was"
    done
  done
}

# kill -9 of kiln load at a random moment, 50 times: the image is there completely or not at
# all, and the store loads it again and passes system check.
# Right after the kill, a blob write killed half-way may have left its temp file
# (blobs/sha256/*.tmp-PID-*) and the load its work dir (tmp/PID-*); the next load removes both
# (checked after it); nothing else may be wrong.
assert_check_after_killed_load() {
  if ! out=$("$KILN" system check 2>&1); then
    echo "$out" | grep -v -e 'temp file of an interrupted write' -e 'left by a load that died' | grep -q '^problem' &&
      fail "try $1: system check: $out"
    "$KILN" system check --repair >/dev/null 2>&1
  fi
  assert_check_ok
}

test_load_killed_randomly() {
  export KILN_ROOT=$T/store KILN_RUN_ROOT=$T/run
  for n in $(seq 50); do
    "$KILN" load -q -i "$IMAGES/oci" --name test/multi:latest >/dev/null 2>&1 &
    local pid=$!
    sleep "0.0$((RANDOM % 10))$((RANDOM % 10))"
    kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
    if "$KILN" images | grep -q multi; then
      assert_check_after_killed_load "$n"
      "$KILN" rmi test/multi:latest >/dev/null || fail "rmi"
    fi
    "$KILN" load -q -i "$IMAGES/oci" --name test/multi:latest >/dev/null || fail "try $n: load again"
    # The next load removes the temp files of the load that died: nothing is left to repair.
    assert_check_ok
    "$KILN" rmi test/multi:latest >/dev/null || fail "rmi"
  done
  "$KILN" load -q -i "$IMAGES/oci" --name test/multi:latest >/dev/null || fail "load"
  "$KILN" unpack test/multi:latest "$T/unpacked" >/dev/null || fail "unpack"
}

# system check --repair fixes what a dead command left.
test_system_check_repair() {
  require_failpoints
  kiln_setup
  KILN_FAILPOINT=store-before-image-write:kill "$KILN" load -q -i "$IMAGES/oci" --name test/multi:latest >/dev/null 2>&1
  KILN_FAILPOINT=engine-after-rootfs-mount:kill "$KILN" run -d --name dead busybox true >/dev/null 2>&1
  make_bundle "$T/b" sleep 100
  stray=$(printf '%064d' 7)
  KILN_FAILPOINT=create-after-cgroup:kill "$KR" --root "$KILN_RUN_ROOT/runtime" create --bundle "$T/b" "$stray" 2>/dev/null
  out=$("$KILN" system check 2>&1) && fail "system check found nothing: $out"
  assert_contains "$out" "problem: layer"
  assert_contains "$out" "problem: container"
  assert_contains "$out" "problem: runtime state of container 000000000000"
  out=$("$KILN" system check --repair 2>&1) || fail "repair: $out"
  assert_not_contains "$out" "problem:"
  assert_check_ok
  assert_kiln_clean
}

# --- full disks: a store on a small tmpfs made here ---
small_store() { # small_store SIZE: the store on a tmpfs of SIZE
  mkdir -p "$T/small"
  mount -t tmpfs -o size="$1" kiln-test-small "$T/small" || fail "mount tmpfs"
  export KILN_ROOT=$T/small/store KILN_RUN_ROOT=$T/run
}
small_store_done() { umount "$T/small" || umount -l "$T/small"; }

# A load that does not fit fails with a clear error and leaves the store as it was (not the
# layers it had stored before the disk filled up); a smaller one loads afterwards.
test_load_enospc_leaves_store_as_it_was() {
  mkdir -p "$T/l1/etc" "$T/l2"
  echo small > "$T/l1/etc/small"
  head -c 6000000 /dev/urandom > "$T/l2/big"
  tar -C "$T/l1" -cf "$T/l1.tar" . && tar -C "$T/l2" -cf "$T/l2.tar" . || fail tar
  python3 "$FIX/make_oci.py" "$T/big-img" "$T/l1.tar" "$T/l2.tar" || fail "make_oci big"
  python3 "$FIX/make_oci.py" "$T/small-img" "$T/l1.tar" || fail "make_oci small"
  small_store 8m
  "$KILN" images >/dev/null || fail "images"
  before=$(store_files "$KILN_ROOT")
  out=$("$KILN" load -q -i "$T/big-img" --name big:1 2>&1) && fail "the big load fit"
  assert_contains "$out" "No space left on device"
  assert_eq "$(echo "$out" | wc -l)" 1 "one line"
  assert_eq "$(store_files "$KILN_ROOT")" "$before" "the store is not as it was"
  assert_eq "$(ls "$KILN_ROOT/tmp")" "" "work dirs left"
  "$KILN" load -q -i "$T/small-img" --name small:1 >/dev/null || fail "the small load"
  assert_check_ok
  small_store_done
}

# A container that fills its writable layer sees ENOSPC; kiln keeps working.
test_container_fills_upper_dir() {
  small_store 24m
  "$KILN" import "$IMAGES/rootfs.tar.gz" busybox:latest >/dev/null || fail "import busybox"
  out=$("$KILN" run --rm busybox sh -c 'dd if=/dev/zero of=/fill bs=1M count=64 2>&1; echo rc=$?')
  assert_contains "$out" "No space left on device"
  assert_contains "$out" "rc=1"
  "$KILN" run -d --name full busybox sh -c 'dd if=/dev/zero of=/fill bs=1M count=64; sleep 100' >/dev/null || fail "run -d"
  sleep 0.5
  # A run while the disk is full: works, or fails in one clear line, leaving nothing.
  out=$("$KILN" run --rm busybox echo still 2>&1) || assert_contains "$out" "No space left on device"
  [ $? -eq 0 ] || fail "a run while the disk is full: $out"
  "$KILN" ps -a >/dev/null || fail "ps -a"
  "$KILN" rm -f full >/dev/null || fail "rm -f"
  assert_eq "$("$KILN" run --rm busybox echo again)" again
  assert_check_ok
  assert_kiln_clean
  small_store_done
}

# --storage-opt size=N: the writable layer is limited (a tmpfs of its own), on any backing fs.
test_storage_opt_size_limits_upper() {
  kiln_setup
  out=$("$KILN" run --rm --storage-opt size=8m busybox sh -c 'dd if=/dev/zero of=/a bs=1M count=2 2>/dev/null && echo two-ok; dd if=/dev/zero of=/b bs=1M count=64 2>&1; echo rc=$?')
  assert_contains "$out" "two-ok"
  assert_contains "$out" "No space left on device"
  assert_contains "$out" "rc=1"
  "$KILN" run -d --name sized --storage-opt size=4m busybox sleep 100 >/dev/null || fail "run -d"
  assert_eq "$("$KILN" inspect sized | jq -r '.[0].StorageSize')" 4194304
  "$KILN" rm -f sized >/dev/null || fail "rm -f"
  out=$("$KILN" run --rm --storage-opt foo=1 busybox true 2>&1) && fail "foo=1 accepted"
  assert_contains "$out" "only size=N is supported"
  out=$("$KILN" run --rm --read-only --storage-opt size=1m busybox true 2>&1) && fail "read-only + size accepted"
  assert_contains "$out" "no writable layer"
  assert_check_ok
  assert_kiln_clean
}

# --- races ---
test_race_same_name() {
  kiln_setup
  for i in $(seq 20); do
    ("$KILN" run -d --name same busybox sleep 100 >"$T/r$i.out" 2>&1; echo $? >"$T/r$i.rc") &
  done
  wait
  won=$(grep -l '^0$' "$T"/r*.rc | wc -l)
  assert_eq "$won" 1 "runs that got the name"
  for i in $(seq 20); do
    [ "$(cat "$T/r$i.rc")" == 0 ] && continue
    assert_contains "$(cat "$T/r$i.out")" "name same is already in use" "run $i"
  done
  assert_eq "$("$KILN" ps -q | wc -l)" 1 "containers running"
  "$KILN" rm -f same >/dev/null || fail "rm -f"
  assert_check_ok
  assert_kiln_clean
}

test_race_concurrent_loads() {
  export KILN_ROOT=$T/store KILN_RUN_ROOT=$T/run
  for i in $(seq 8); do ("$KILN" load -q -i "$IMAGES/oci" --name test/multi:latest >/dev/null 2>"$T/l$i.err"; echo $? >"$T/l$i.rc") & done
  wait
  for i in $(seq 8); do assert_eq "$(cat "$T/l$i.rc")" 0 "load $i: $(cat "$T/l$i.err")"; done
  assert_eq "$(ls "$KILN_ROOT/layers" | wc -l)" 3 "one copy of each layer"
  assert_check_ok
  "$KILN" unpack test/multi:latest "$T/unpacked" >/dev/null || fail "unpack"
}

test_race_rmi_while_starting() {
  kiln_setup
  for i in $(seq 6); do ("$KILN" run --rm busybox true >/dev/null 2>"$T/s$i.err"; echo $? >"$T/s$i.rc") & done
  sleep 0.05
  rmi_out=$("$KILN" rmi busybox 2>&1); rmi_rc=$?
  wait
  if [ $rmi_rc -ne 0 ]; then assert_contains "$rmi_out" "in use by container"; fi
  for i in $(seq 6); do
    [ "$(cat "$T/s$i.rc")" == 0 ] || assert_contains "$(cat "$T/s$i.err")" "busybox"
  done
  assert_check_ok
  assert_kiln_clean
}

test_race_rm_exec_stop() {
  kiln_setup
  for n in $(seq 5); do
    "$KILN" run -d --name racer busybox sleep 100 >/dev/null || fail "run -d"
    "$KILN" exec racer sleep 2 >/dev/null 2>&1 &
    "$KILN" stop -t 1 racer >/dev/null 2>&1 &
    "$KILN" rm -f racer >/dev/null 2>&1 &
    wait
    "$KILN" rm -f racer >/dev/null 2>&1
    "$KILN" ps -a >/dev/null || fail "ps -a"
    assert_check_ok
    assert_kiln_clean
  done
}

test_race_secret_rm_while_running() {
  kiln_setup
  printf 's3cret' > "$T/pw"
  for n in $(seq 5); do
    "$KILN" secret create pw "$T/pw" >/dev/null || fail "secret create"
    for i in 1 2 3; do ("$KILN" run --rm --secret pw busybox cat /run/secrets/pw >"$T/o$i" 2>&1; echo $? >"$T/o$i.rc") & done
    "$KILN" secret rm pw >/dev/null || fail "secret rm"
    wait
    for i in 1 2 3; do
      if [ "$(cat "$T/o$i.rc")" == 0 ]; then assert_eq "$(cat "$T/o$i")" s3cret; else assert_contains "$(cat "$T/o$i")" "secret pw"; fi
    done
  done
  "$KILN" secret ls >/dev/null || fail "secret ls"
  assert_check_ok
  assert_kiln_clean
}

run_tests
