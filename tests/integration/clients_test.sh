#!/usr/bin/env bash
# Real clients: podman 4.3 (conmon) and containerd 1.6 (ctr, containerd-shim-runc-v2) drive
# kiln-runtime exactly as they drive runc. Set-ups follow ../shared/oci-clients/README.md:
# everything (storage, state, sockets, TMPDIR) lives under the test's $T; cgroups are named after
# $ID so lib.sh's leftover check sees them. Needs root, podman, conmon, containerd, ctr, umoci,
# skopeo (tests/install-deps.sh).
source "$(dirname "$0")/lib.sh"

for tool in podman conmon containerd ctr umoci skopeo jq; do
  command -v "$tool" >/dev/null || { echo "  FAIL clients_test: $tool not installed (tests/install-deps.sh)"; exit 1; }
done

IMAGE=localhost/kiln-bb:latest
TO=60   # seconds any single client command may take before the test gives up

# The busybox test image as docker-archive and oci-archive tars, built once:
# busybox rootfs tar -> umoci layout -> skopeo copy.
bb_image() { # prints the cache dir holding bb-docker.tar and bb-oci.tar
  local cache=$KILN_TEST_CACHE/clients-image
  if [ ! -s "$cache/bb-oci.tar" ] || [ ! -s "$cache/bb-docker.tar" ]; then
    mkdir -p "$KILN_TEST_CACHE"
    local tmp; tmp=$(mktemp -d "$KILN_TEST_CACHE/clients-image.XXXX")
    busybox_rootfs "$tmp/rootfs"
    tar -C "$tmp/rootfs" -cf "$tmp/rootfs.tar" . || fail "tar rootfs"
    {
      umoci init --layout "$tmp/L" &&
      umoci new --image "$tmp/L:latest" &&
      umoci raw add-layer --image "$tmp/L:latest" "$tmp/rootfs.tar" &&
      umoci config --image "$tmp/L:latest" --config.cmd /bin/sh &&
      skopeo copy -q "oci:$tmp/L:latest" "docker-archive:$tmp/bb-docker.tar:$IMAGE" &&
      skopeo copy -q "oci:$tmp/L:latest" "oci-archive:$tmp/bb-oci.tar:$IMAGE"
    } >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log" >&2; rm -rf "$tmp"; fail "building the test image"; }
    rm -rf "$cache"; mkdir -p "$cache"
    mv "$tmp/bb-docker.tar" "$tmp/bb-oci.tar" "$cache/"; rm -rf "$tmp"
  fi
  echo "$cache"
}

# Remove cgroup dirs named $ID that clients (not the runtime) leave: podman puts conmon in
# <cgroup-parent>/conmon, and the runtime creates (but, like runc, never removes) the parent of
# cgroupsPath. rmdir fails on a non-empty dir, so a container cgroup the runtime left behind
# keeps its parent and lib.sh reports it.
remove_parent_cgroups() {
  local d
  for d in /sys/fs/cgroup/*/"$ID"/conmon /sys/fs/cgroup/*/"$ID"; do
    [ -d "$d" ] && rmdir "$d" 2>/dev/null
  done
  return 0
}

# Wait until no process mentions $T in its command line (conmon, containerd, shims).
wait_no_processes_under_T() {
  local i
  for i in $(seq 50); do
    pgrep -f "$T/" >/dev/null || return 0
    sleep 0.1
  done
  pgrep -af "$T/" >&2
  return 1
}

# Runs a shell command line on a new pseudo-terminal (script(1)), as a person at a terminal would.
# Inner commands use timeout --foreground: plain timeout moves itself into a background process
# group, where a client that sets the terminal to raw mode is stopped by SIGTTOU. The outer
# timeout bounds script itself (it waits for every holder of the pty to let go).
in_pty() {
  SHELL=/bin/sh timeout -k 5 $((TO + 20)) script -qec "$1" /dev/null < /dev/null
}

unmount_under_T() {
  grep -F " $T/" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l 2>/dev/null
  return 0
}

# ---------------------------------------------------------------- podman

podman_setup() {
  mkdir -p "$T/tmp" "$T/net"
  cat > "$T/containers.conf" <<EOF
[containers]
netns = "none"
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$T/events.log"
tmp_dir = "$T/tmp"
volume_path = "$T/volumes"
runtime_supports_json = ["crun", "runc", "kata", "runsc", "youki", "krun", "kiln-runtime"]
conmon_env_vars = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TMPDIR=$T/tmp"]
[network]
network_config_dir = "$T/net"
EOF
  printf '[storage]\ndriver = "overlay"\nrunroot = "%s/runroot"\ngraphroot = "%s/root"\n' "$T" "$T" > "$T/storage.conf"
  export CONTAINERS_CONF=$T/containers.conf CONTAINERS_STORAGE_CONF=$T/storage.conf TMPDIR=$T/tmp
  trap podman_teardown EXIT
  local img; img=$(bb_image) || exit 1
  p load -q -i "$img/bb-docker.tar" >/dev/null || fail "podman load"
}

p() { timeout "$TO" podman --root "$T/root" --runroot "$T/runroot" --runtime "$KR" "$@"; }

# Every container podman ran must be gone from kiln-runtime's default state dir
# (podman passes no --root) once podman has removed it.
podman_teardown() {
  local rc=$? bad=0 ids; ids=$(p ps -aq --no-trunc 2>/dev/null)
  p rm -af -t 0 >/dev/null 2>&1
  wait_no_processes_under_T || bad=1
  local id; for id in $ids $(cat "$T/cids" 2>/dev/null); do
    [ -e "/run/kiln-runtime/$id" ] && { echo "    FAIL: kiln-runtime state /run/kiln-runtime/$id left" >&2; bad=1; }
  done
  unmount_under_T
  remove_parent_cgroups
  [ $bad -eq 0 ] || rc=1
  exit $rc
}

test_podman_run_echo_hi() {
  podman_setup
  out=$(p run --rm --cgroup-parent="/$ID" "$IMAGE" echo hi) || fail "podman run: $out"
  assert_eq "$out" "hi" "podman run --rm echo hi"
  # Only fds 0-2 reach the container (plus ls's own directory fd).
  out=$(p run --rm --cgroup-parent="/$ID" "$IMAGE" ls /proc/self/fd) || fail "podman run ls: $out"
  assert_eq "$(echo $out)" "0 1 2 3" "fds seen inside the container"
  # stdin passes through with -i.
  out=$(echo piped | p run --rm -i --cgroup-parent="/$ID" "$IMAGE" sh -c 'cat; echo done') || fail "podman run -i: $out"
  assert_eq "$out" "$(printf 'piped\ndone')" "podman run -i"
  # podman info reports `kiln-runtime --version` verbatim.
  ver=$(p info --format '{{.Host.OCIRuntime.Version}}') || fail "podman info"
  assert_contains "$ver" "$("$KR" --version | head -1)" "podman info ociRuntime.version"
}

test_podman_exit_status_and_missing_command() {
  podman_setup
  assert_status 3 p run --rm --cgroup-parent="/$ID" "$IMAGE" sh -c 'exit 3'
  # A missing command: podman reads the JSON oci-log and maps "no such file or directory" to 127.
  err=$(p run --rm --cgroup-parent="/$ID" "$IMAGE" /nonexistent 2>&1); rc=$?
  assert_eq "$rc" 127 "exit status of a missing absolute command"
  assert_contains "${err,,}" "no such file or directory"
  assert_contains "$err" "/nonexistent"
  err=$(p run --rm --cgroup-parent="/$ID" "$IMAGE" no-such-cmd 2>&1); rc=$?
  assert_eq "$rc" 127 "exit status of a command not in \$PATH"
  assert_contains "$err" "no-such-cmd"
}

test_podman_detached_exec_stop_rm() {
  podman_setup
  name=${ID}c
  cid=$(p run -d --name "$name" --cgroup-parent="/$ID" -e FOO=bar "$IMAGE" \
        sh -c 'trap "exit 7" TERM; while true; do sleep 0.1; done') || fail "podman run -d: $cid"
  echo "$cid" >> "$T/cids"
  assert_eq "$(p inspect -f '{{.State.Status}}' "$name")" "running"
  out=$(p exec "$name" sh -c 'echo $FOO') || fail "podman exec: $out"
  assert_eq "$out" "bar" "podman exec sees the container env"
  out=$(p exec -e BAZ=qux -w /tmp "$name" sh -c 'echo $BAZ $(pwd)') || fail "podman exec -e -w: $out"
  assert_eq "$out" "qux /tmp" "podman exec -e -w"
  assert_status 5 p exec "$name" sh -c 'exit 5'
  assert_status 127 p exec "$name" no-such-cmd
  out=$(echo in | p exec -i "$name" cat) || fail "podman exec -i: $out"
  assert_eq "$out" "in" "podman exec -i"
  # pause / unpause through kiln-runtime pause/resume (freezer cgroup).
  p pause "$name" >/dev/null || fail "podman pause"
  assert_eq "$(p inspect -f '{{.State.Status}}' "$name")" "paused"
  assert_eq "$(cat /sys/fs/cgroup/freezer/"$ID"/libpod-"$cid"/freezer.state)" "FROZEN"
  p unpause "$name" >/dev/null || fail "podman unpause"
  assert_eq "$(p inspect -f '{{.State.Status}}' "$name")" "running"
  # stop sends SIGTERM (kiln-runtime kill ID 15); the trap's exit code shows it arrived.
  start=$SECONDS
  p stop -t 10 "$name" >/dev/null || fail "podman stop"
  [ $((SECONDS - start)) -lt 8 ] || fail "podman stop needed SIGKILL"
  assert_eq "$(p inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$name")" "exited 7"
  p rm "$name" >/dev/null || fail "podman rm"
  [ -z "$(p ps -aq)" ] || fail "containers left after rm: $(p ps -a)"
  [ ! -e "/run/kiln-runtime/$cid" ] || fail "kiln-runtime state of $cid left after podman rm"
}

test_podman_memory_limit() {
  podman_setup
  name=${ID}m
  cid=$(p run -d --name "$name" --cgroup-parent="/$ID" --memory 64m "$IMAGE" \
        sh -c 'trap "exit 0" TERM; while true; do sleep 0.1; done') || fail "podman run -d --memory: $cid"
  echo "$cid" >> "$T/cids"
  out=$(p exec "$name" cat /sys/fs/cgroup/memory/memory.limit_in_bytes) || fail "podman exec cat: $out"
  assert_eq "$out" 67108864 "memory limit seen inside the container"
  assert_eq "$(cat /sys/fs/cgroup/memory/"$ID"/libpod-"$cid"/memory.limit_in_bytes)" 67108864 "memory limit on the host"
  p rm -f -t 2 "$name" >/dev/null || fail "podman rm -f"
  [ ! -d "/sys/fs/cgroup/memory/$ID/libpod-$cid" ] || fail "container cgroup left after podman rm -f"
}

test_podman_tty() {
  command -v script >/dev/null || { echo "skip: script (bsdutils) not installed"; return 0; }
  podman_setup
  # podman run -t needs a terminal: script(1) gives it one. kiln-runtime sends the pty master to
  # conmon over --console-socket.
  out=$(in_pty "timeout --foreground -k 5 $TO podman --root $T/root --runroot $T/runroot --runtime $KR run --rm -t --cgroup-parent=/$ID $IMAGE sh -c 'tty; [ -t 0 ] && echo stdin-is-tty; exit 4'"); rc=$?
  assert_eq "$rc" 4 "exit status of podman run -t"
  assert_contains "$out" "/dev/pts/0"
  assert_contains "$out" "stdin-is-tty"
  name=${ID}t
  cid=$(p run -d --name "$name" --cgroup-parent="/$ID" "$IMAGE" sh -c 'trap "exit 0" TERM; while true; do sleep 0.1; done') || fail "podman run -d: $cid"
  echo "$cid" >> "$T/cids"
  out=$(in_pty "timeout --foreground -k 5 $TO podman --root $T/root --runroot $T/runroot exec -t $name sh -c 'tty; exit 6'"); rc=$?
  assert_eq "$rc" 6 "exit status of podman exec -t"
  assert_contains "$out" "/dev/pts/"
  p rm -f -t 2 "$name" >/dev/null || fail "podman rm -f"
}

# ---------------------------------------------------------------- containerd

ctd_setup() {
  mkdir -p "$T/tmp"
  cat > "$T/config.toml" <<EOF
version = 2
root = "$T/root"
state = "$T/state-ctd"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$T/c.sock"
[ttrpc]
  address = "$T/c.sock.ttrpc"
EOF
  TMPDIR=$T/tmp containerd --config "$T/config.toml" > "$T/containerd.log" 2>&1 &
  CTD=$!
  trap ctd_teardown EXIT
  local i
  for i in $(seq 100); do
    timeout 5 ctr -a "$T/c.sock" version >/dev/null 2>&1 && break
    kill -0 $CTD 2>/dev/null || { cat "$T/containerd.log" >&2; fail "containerd exited"; }
    sleep 0.05
  done
  local img; img=$(bb_image) || exit 1
  c images import "$img/bb-oci.tar" >/dev/null || fail "ctr images import"
  # The runtime's --root goes under $T (the shim appends /<namespace>); fifos too.
  R=(--runc-binary "$KR" --runc-root "$T/rtroot" --fifo-dir "$T/fifo")
}

# The containerd namespace is $ID, so cgroupsPath is /$ID/<container> and lib.sh sees leftovers.
c() { TMPDIR=$T/tmp timeout "$TO" ctr -a "$T/c.sock" -n "$ID" "$@"; }

ctd_teardown() {
  local rc=$? bad=0 t
  for t in $(c task ls -q 2>/dev/null); do
    c task kill -a -s KILL "$t" >/dev/null 2>&1; c task rm -f "$t" >/dev/null 2>&1
  done
  for t in $(c c ls -q 2>/dev/null); do c c rm "$t" >/dev/null 2>&1; done
  # Shims exit once their task is deleted; then containerd can go.
  kill -TERM "$CTD" 2>/dev/null; wait "$CTD" 2>/dev/null
  wait_no_processes_under_T || bad=1
  # The runtime's own state: nothing left for any container.
  if [ -n "$(ls -A "$T/rtroot/$ID" 2>/dev/null)" ]; then
    echo "    FAIL: kiln-runtime state left: $(ls "$T/rtroot/$ID")" >&2; bad=1
  fi
  unmount_under_T
  remove_parent_cgroups
  [ $bad -eq 0 ] || rc=1
  exit $rc
}

test_containerd_run_echo_and_exit_status() {
  ctd_setup
  out=$(c run --rm "${R[@]}" "$IMAGE" "${ID}a" echo hi) || fail "ctr run: $out"
  assert_eq "$out" "hi" "ctr run --rm echo hi"
  assert_status 3 c run --rm "${R[@]}" "$IMAGE" "${ID}b" sh -c 'exit 3'
  # A failed create: containerd shows the msg of the last error line of the runtime's JSON log.
  err=$(c run --rm "${R[@]}" "$IMAGE" "${ID}c" /nonexistent 2>&1); rc=$?
  [ "$rc" -ne 0 ] || fail "ctr run of a missing command succeeded"
  assert_contains "$err" "OCI runtime create failed"
  assert_contains "${err,,}" "no such file or directory"
  c c rm "${ID}c" >/dev/null 2>&1
  # Only fds 0-2 reach the container (the shim passes a unix socket as fd 3 to create).
  out=$(c run --rm "${R[@]}" "$IMAGE" "${ID}d" ls /proc/self/fd) || fail "ctr run ls: $out"
  assert_eq "$(echo $out)" "0 1 2 3" "fds seen inside the container"
  [ -z "$(c c ls -q)" ] || fail "containers left: $(c c ls)"
}

test_containerd_detached_task() {
  ctd_setup
  name=${ID}d
  c run -d --env FOO=bar --memory-limit 67108864 --log-uri "file://$T/d.log" "${R[@]}" "$IMAGE" "$name" \
    sh -c 'echo started; trap "echo got-term; exit 9" TERM; sleep 1000 & wait' || fail "ctr run -d"
  pid=$(c task ls | awk -v n="$name" '$1 == n {print $2}')
  assert_eq "$(c task ls | awk -v n="$name" '$1 == n {print $3}')" "RUNNING" "task status"
  assert_eq "$(cat /sys/fs/cgroup/memory/"$ID"/"$name"/memory.limit_in_bytes)" 67108864 "memory limit on the host"
  # exec: output and exit status propagate.
  out=$(c task exec --fifo-dir "$T/fifo" --exec-id x1 "$name" sh -c 'echo $FOO') || fail "ctr task exec: $out"
  assert_eq "$out" "bar" "ctr task exec sees the container env"
  assert_status 4 c task exec --fifo-dir "$T/fifo" --exec-id x2 "$name" sh -c 'exit 4'
  err=$(c task exec --fifo-dir "$T/fifo" --exec-id x3 "$name" no-such-cmd 2>&1) && fail "exec of a missing command succeeded"
  assert_contains "$err" "OCI runtime exec failed"
  assert_contains "${err,,}" "no such file or directory"
  # ps: kiln-runtime ps --format json -> the init and its sleep child.
  ps=$(c task ps "$name") || fail "ctr task ps: $ps"
  pids=$(echo "$ps" | awk 'NR > 1 {print $1}' | sort -n | tr '\n' ' ')
  assert_contains " $pids" " $pid " "init pid in ctr task ps"
  [ "$(echo $pids | wc -w)" -eq 2 ] || fail "ctr task ps: expected 2 processes, got [$pids]"
  # pause / resume
  c task pause "$name" || fail "ctr task pause"
  assert_eq "$(c task ls | awk -v n="$name" '$1 == n {print $3}')" "PAUSED" "status after pause"
  assert_eq "$(cat /sys/fs/cgroup/freezer/"$ID"/"$name"/freezer.state)" "FROZEN"
  c task resume "$name" || fail "ctr task resume"
  assert_eq "$(c task ls | awk -v n="$name" '$1 == n {print $3}')" "RUNNING" "status after resume"
  # kill (SIGTERM) -> the trap runs, the task stops with its exit code.
  c task kill "$name" || fail "ctr task kill"
  for i in $(seq 50); do
    [ "$(c task ls | awk -v n="$name" '$1 == n {print $3}')" == STOPPED ] && break; sleep 0.1
  done
  assert_eq "$(c task ls | awk -v n="$name" '$1 == n {print $3}')" "STOPPED" "status after kill"
  # A second kill on a stopped task: "container not running" -> containerd's "already finished".
  err=$(c task kill "$name" 2>&1) && fail "kill of a stopped task succeeded"
  assert_contains "$err" "already finished"
  err=$(c task rm "$name" 2>&1) || fail "ctr task rm: $err"
  assert_contains "$err" "exit code 9"
  c c rm "$name" || fail "ctr c rm"
  assert_eq "$(cat "$T/d.log")" "$(printf 'started\ngot-term')" "container output"
  [ ! -d "/sys/fs/cgroup/memory/$ID/$name" ] || fail "container cgroup left after task rm"
}

task_status() { c task ls | awk -v n="$1" '$1 == n {print $3}'; }
wait_task_stopped() {
  local i
  for i in $(seq 50); do [ "$(task_status "$1")" == STOPPED ] && return 0; sleep 0.1; done
  return 1
}

test_containerd_kill_paused_and_kill_all() {
  ctd_setup
  # SIGKILL to a paused task: on cgroup v1 the runtime must thaw it (as runc does) or the task
  # stays PAUSED until someone resumes it.
  name=${ID}p
  c run -d --null-io "${R[@]}" "$IMAGE" "$name" sleep 1000 || fail "ctr run -d"
  c task pause "$name" || fail "ctr task pause"
  c task kill -s KILL "$name" || fail "ctr task kill -s KILL"
  wait_task_stopped "$name" || fail "paused task after SIGKILL: status $(task_status "$name"), want STOPPED"
  c task rm "$name" >/dev/null 2>&1 || fail "ctr task rm"
  c c rm "$name" || fail "ctr c rm"
  # kill --all (SIGKILL to every process of the cgroup); a running task cannot be removed first.
  name=${ID}k
  c run -d --null-io "${R[@]}" "$IMAGE" "$name" sh -c 'sleep 1000 & sleep 1000 & wait' || fail "ctr run -d"
  c task rm "$name" >/dev/null 2>&1 && fail "task rm of a running task succeeded"
  c task kill -a -s KILL "$name" || fail "ctr task kill --all"
  wait_task_stopped "$name" || fail "status after kill --all: $(task_status "$name")"
  c task rm "$name" >/dev/null 2>&1 || fail "ctr task rm"
  c c rm "$name" || fail "ctr c rm"
}

test_containerd_tty() {
  command -v script >/dev/null || { echo "skip: script (bsdutils) not installed"; return 0; }
  ctd_setup
  cmd="TMPDIR=$T/tmp timeout --foreground -k 5 $TO ctr -a $T/c.sock -n $ID"
  out=$(in_pty "$cmd run --rm -t ${R[*]} $IMAGE ${ID}t sh -c 'tty; [ -t 0 ] && echo stdin-is-tty; exit 5'"); rc=$?
  assert_eq "$rc" 5 "exit status of ctr run -t"
  assert_contains "$out" "/dev/pts/0"
  assert_contains "$out" "stdin-is-tty"
  name=${ID}e
  c run -d --null-io "${R[@]}" "$IMAGE" "$name" sh -c 'trap "exit 0" TERM; sleep 1000 & wait' || fail "ctr run -d"
  out=$(in_pty "$cmd task exec -t --fifo-dir $T/fifo --exec-id x1 $name sh -c 'tty; exit 6'"); rc=$?
  assert_eq "$rc" 6 "exit status of ctr task exec -t"
  assert_contains "$out" "/dev/pts/"
}

run_tests
