#!/usr/bin/env bash
# kiln run / ps / logs / stop / kill / rm / exec / inspect / stats against a busybox image
# imported into a per-test store; every test checks that nothing is left behind (mounts under
# $T, cgroups and processes named by the container ids, records, upper dirs).
. "$(dirname "$0")/lib.sh"
FIX=$TOP/tests/fixtures
IMAGES=$(bash "$FIX/build-images.sh") || { echo "fixture build failed" >&2; exit 1; }

setup() {
  export KILN_ROOT=$T/store KILN_RUN_ROOT=$T/run
  "$KILN" import "$IMAGES/rootfs.tar.gz" busybox:latest >/dev/null || fail "import busybox"
}
# Nothing of any container left: no record, no container dir, no mount, no cgroup.
assert_clean() {
  [ -z "$(ls "$KILN_RUN_ROOT/containers" 2>/dev/null)" ] || fail "records left: $(ls "$KILN_RUN_ROOT/containers")"
  [ -z "$(ls "$KILN_RUN_ROOT/runtime" 2>/dev/null | grep -v seccomp-cache)" ] || fail "runtime state left"
  [ -z "$(ls "$KILN_ROOT/containers" 2>/dev/null | grep -v '^\.init$')" ] || fail "container dirs left"
  ! grep -qF "$T" /proc/self/mountinfo || fail "mounts left: $(grep -F "$T" /proc/self/mountinfo)"
}

test_foreground_status_and_output() {
  setup
  assert_eq "$("$KILN" run --rm busybox echo hello)" hello
  assert_status 3 "$KILN" run --rm busybox sh -c 'exit 3'
  # a crashing container (pid 1 cannot be signalled from inside its namespace: crash a child)
  assert_status 139 "$KILN" run --rm busybox sh -c 'sh -c "kill -SEGV \$\$"; exit $?'
  assert_clean
}

test_missing_command_127_and_nothing_left() {
  setup
  out=$("$KILN" run busybox nope 2>&1); rc=$?
  assert_eq $rc 127 "missing command"
  assert_eq "$out" 'kiln: run busybox: exec: "nope": executable file not found in $PATH'
  assert_status 126 "$KILN" run busybox /etc/passwd
  assert_status 125 "$KILN" run no-such-image true
  assert_status 125 "$KILN" run --memory 12q busybox true
  assert_status 125 "$KILN" run --cap-add NOPE busybox true
  assert_status 125 "$KILN" run -v relative:/x busybox true
  assert_clean
}

# Only the command on the line is set up (its options cost time); the line must parse as before:
# global options and their values ahead of it, a value that is a command's name, --help of all.
test_command_line_with_global_options() {
  setup
  help=$("$KILN" --help)
  for verb in run ps rm build pull network secret scan; do assert_contains "$help" " $verb " "kiln --help lists $verb"; done
  assert_contains "$("$KILN" run --help)" "--replicas"
  mkdir -p "$T/ps"
  cp -a "$KILN_ROOT/." "$T/ps/"  # a store whose path is a command's name
  (cd "$T" && assert_eq "$("$KILN" --log-format text --root ps --log "$T/log" run --rm --network none busybox echo ok)" ok)
  assert_eq "$("$KILN" --root="$KILN_ROOT" --debug ps -q 2>/dev/null)" ""
  assert_status 125 "$KILN" --root "$KILN_ROOT" nosuchverb
  rt_help=$("$KR" --help)
  for verb in create start state kill delete run exec features; do assert_contains "$rt_help" " $verb " "kiln-runtime --help lists $verb"; done
  assert_eq "$("$KR" --root "$T/rt" --log "$T/rt.log" --log-format json list -q)" ""
  rm -rf "$T/ps"
  assert_clean
}

test_safe_defaults() {
  setup
  out=$("$KILN" run --rm busybox sh -c 'grep -E "^(CapEff|Seccomp|NoNewPrivs):" /proc/self/status; ulimit -n; ip -o link | wc -l; if [ -e /proc/kcore ]; then echo kcore=$(wc -c < /proc/kcore); else echo kcore=0; fi; grep " /proc/sys " /proc/self/mountinfo')
  assert_contains "$out" "CapEff:	00000000a80425fb"
  assert_contains "$out" "Seccomp:	2"
  assert_contains "$out" "NoNewPrivs:	1"
  assert_contains "$out" "1024"
  assert_contains "$out" " /proc/sys ro,"
  assert_contains "$out" "kcore=0" "/proc/kcore masked (bound to /dev/null) or absent from this kernel"
  out=$("$KILN" run --rm --network none busybox ip -o link)
  assert_contains "$out" "lo:"; assert_contains "$out" "UP"
  assert_eq "$(echo "$out" | wc -l)" 1 "only loopback with --network none"
  assert_contains "$("$KILN" run --rm --security-opt seccomp=unconfined busybox grep Seccomp: /proc/self/status)" "0"
  assert_contains "$("$KILN" run --rm --cap-drop ALL busybox grep CapBnd /proc/self/status)" "0000000000000000"
  assert_contains "$("$KILN" run --rm --cap-add ALL busybox grep CapEff /proc/self/status)" "$(grep CapBnd /proc/self/status | cut -f2)"
  assert_clean
}

# docker's per-container /etc/hostname, /etc/hosts, /etc/resolv.conf: the container resolves its
# own name; the image's files are untouched; also with --read-only; the host's with --network host.
test_etc_hostname_hosts_resolv_conf() {
  setup
  out=$("$KILN" run --rm --network none busybox sh -c 'hostname; cat /etc/hostname; cat /etc/hosts; ping -c1 -W1 $(hostname) >/dev/null && echo own-name-resolves; wc -c < /etc/resolv.conf')
  name=$(echo "$out" | head -1)
  [ ${#name} -eq 12 ] || fail "hostname: $out"
  assert_eq "$(echo "$out" | sed -n 2p)" "$name" "/etc/hostname"
  assert_contains "$out" "127.0.0.1	localhost"
  assert_contains "$out" "127.0.1.1	$name"
  assert_contains "$out" "own-name-resolves"
  # On the default bridge network the name is at the container's address.
  out=$("$KILN" run --rm --hostname box2 busybox sh -c 'grep box2 /etc/hosts; ping -c1 -W1 box2 >/dev/null && echo own-name-resolves')
  assert_contains "$out" "10.77.0."
  assert_contains "$out" "own-name-resolves"
  out=$("$KILN" run --rm --network none --read-only --hostname box busybox sh -c 'cat /etc/hostname; grep box /etc/hosts; { echo x >> /etc/hosts; } 2>&1')
  assert_contains "$out" "box"
  assert_contains "$out" "127.0.1.1	box"
  assert_contains "$out" "Read-only file system"
  assert_eq "$("$KILN" run --rm --network host busybox cat /etc/hosts)" "$(cat /etc/hosts)" "host network: the host's /etc/hosts"
  # The image's own files are untouched: unpack the image and look.
  "$KILN" unpack busybox "$T/unpacked" >/dev/null || fail unpack
  [ ! -s "$T/unpacked/rootfs/etc/hostname" ] || fail "image's /etc/hostname changed"
  assert_clean
}

test_flags() {
  setup
  echo "FROMFILE=1" > "$T/envf"; echo "# c" >> "$T/envf"
  mkdir -p "$T/vol"; echo data > "$T/vol/f"
  out=$("$KILN" run --rm --read-only --user nobody --workdir /tmp --hostname box -e A=b --env-file "$T/envf" \
        --memory 64m --pids-limit 20 --cpus 0.5 -v "$T/vol:/data:ro" busybox \
        sh -c 'id -u; pwd; hostname; echo $A $FROMFILE; cat /data/f; touch /data/g 2>&1; touch /x 2>&1;
               cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/cpu/cpu.cfs_quota_us')
  for want in 65534 /tmp box "b 1" data "Read-only file system" 67108864 20 50000; do assert_contains "$out" "$want"; done
  [ ! -e "$T/vol/g" ] || fail "wrote through a :ro volume"
  assert_eq "$("$KILN" run --rm --network host busybox ip -o link | wc -l)" "$(ip -o link | wc -l)" "host network"
  assert_clean
}

# A user who may not enter the working directory still starts there (runc enters it as root
# first), as `podman run --user 65534` of an image whose WorkingDir is /root (0700) does; HOME
# comes from the image's /etc/passwd.
test_user_in_root_only_workdir_and_home() {
  setup
  out=$("$KILN" run --rm --user 65534 -w /root busybox sh -c 'pwd; id -u; echo $HOME; ls . 2>&1 | head -1') || fail "run: $out"
  assert_eq "$(echo "$out" | head -3)" "$(printf '/root\n65534\n/home')" "cwd, user and HOME"
  assert_contains "$out" "Permission denied" "the user still may not read /root"
  assert_eq "$("$KILN" run --rm busybox sh -c 'echo $HOME')" /root "root's HOME"
  assert_clean
}

test_timeout_124() {
  setup
  start=$(date +%s)
  assert_status 124 "$KILN" run --rm --timeout 1 busybox sleep 30
  [ $(( $(date +%s) - start )) -lt 10 ] || fail "timeout too slow"
  id=$("$KILN" run -d --timeout 1 busybox sleep 30)
  sleep 2.5
  assert_contains "$("$KILN" ps -a)" "Exited (124)"
  "$KILN" rm "$id" >/dev/null || fail "rm"
  assert_clean
}

# A detached container's monitor waits as the small kiln-monitor (same pid, the init's parent)
# and finishes through kiln; a kiln with no kiln-monitor beside it waits itself, to the same end.
test_detached_monitor_waits_as_kiln_monitor() {
  setup
  exec 7>"$T/held-by-caller"  # a caller's fd (a lock, a pipe) must not live as long as the container
  id=$("$KILN" run -d busybox sh -c 'sleep 1; exit 5') || fail "run -d"
  exec 7>&-
  mon=$("$KILN" inspect "$id" | jq -r '.[0].State.MonitorPid')
  sleep 0.3
  assert_eq "$(basename "$(readlink "/proc/$mon/exe")")" kiln-monitor "the monitor's program"
  ! ls -l "/proc/$mon/fd" | grep -q held-by-caller || fail "the monitor holds its caller's fd"
  init=$("$KR" --root "$KILN_RUN_ROOT/runtime" state "$id" | jq -r .pid)
  assert_eq "$(awk '{print $4}' "/proc/$init/stat")" "$mon" "the container's init is the monitor's child"
  for _ in $(seq 50); do [ -d "/proc/$mon" ] || break; sleep 0.1; done
  [ ! -d "/proc/$mon" ] || fail "monitor still there after the container exited"
  assert_eq "$("$KILN" inspect "$id" | jq -r '.[0].State | "\(.Status) \(.ExitCode)"')" "exited 5"
  id2=$("$KILN" run -d --timeout 1 busybox sleep 30) || fail "run -d --timeout"
  sleep 2.5
  assert_eq "$("$KILN" inspect "$id2" | jq -r '.[0].State | "\(.ExitCode) \(.TimedOut)"')" "124 true" "timeout through kiln-monitor"
  # A container that is gone before its monitor looks (true): still its status, never "unknown".
  for i in $(seq 10); do "$KILN" run -d --name "quick$i" busybox true >/dev/null || fail "run -d true"; done
  for i in $(seq 10); do
    for _ in $(seq 50); do [ "$("$KILN" inspect "quick$i" | jq -r '.[0].State.Status')" == exited ] && break; sleep 0.1; done
    assert_eq "$("$KILN" inspect "quick$i" | jq -r '.[0].State | "\(.Status) \(.ExitCode) \(.Error // "")"')" "exited 0 " "quick$i"
  done
  "$KILN" rm $(for i in $(seq 10); do echo "quick$i"; done) >/dev/null || fail "rm quick"
  # The same kiln without kiln-monitor beside it.
  mkdir -p "$T/bin" && cp "$KILN" "$T/bin/kiln"
  id3=$("$T/bin/kiln" run -d busybox sh -c 'sleep 0.5; exit 6') || fail "run -d without kiln-monitor"
  mon3=$("$KILN" inspect "$id3" | jq -r '.[0].State.MonitorPid')
  assert_not_contains "$(readlink "/proc/$mon3/exe")" kiln-monitor "kiln waits itself"
  for _ in $(seq 50); do [ -d "/proc/$mon3" ] || break; sleep 0.1; done
  assert_eq "$("$KILN" inspect "$id3" | jq -r '.[0].State.ExitCode')" 6 "status without kiln-monitor"
  "$KILN" rm "$id" "$id2" "$id3" >/dev/null || fail "rm"
  assert_clean
}

# A store where the kernel refuses an overlay upper dir (on another overlay): fuse-overlayfs
# serves the rootfs, and without it the one error line says what to install.
test_store_refusing_overlay_uses_fuse_overlayfs() {
  mkdir -p "$T/ov/l" "$T/ov/u" "$T/ov/w" "$T/ov/m"
  mount -t overlay "kiln-ov-$ID" -o "lowerdir=$T/ov/l,upperdir=$T/ov/u,workdir=$T/ov/w" "$T/ov/m" || fail "outer overlay"
  export KILN_ROOT=$T/ov/m/store KILN_RUN_ROOT=$T/run
  "$KILN" import "$IMAGES/rootfs.tar.gz" busybox:latest >/dev/null || fail "import"
  out=$("$KILN" run --rm --network none busybox sh -c 'echo w > /w; cat /w' 2>&1) || fail "run: $out"
  assert_contains "$out" "the kernel refused overlayfs for this store (Invalid argument): using fuse-overlayfs"
  assert_eq "$(echo "$out" | tail -1)" w "a write inside"
  out=$(unshare -m sh -c "mount --bind /dev/null /usr/bin/fuse-overlayfs && $KILN run --rm --network none busybox true" 2>&1)
  assert_eq $? 125 "without fuse-overlayfs"
  assert_contains "$out" "the kernel refused overlayfs (Invalid argument) and fuse-overlayfs is not installed (Debian's fuse-overlayfs package)"
  assert_eq "$("$KILN" ps -aq)" "" "nothing made"
  ! pgrep -f "fuse-overlayfs.*$T" >/dev/null || fail "fuse-overlayfs left"
  grep -qF "$T/ov/m/store" /proc/self/mountinfo && fail "mounts left: $(grep -F "$T/ov/m/store" /proc/self/mountinfo)"
  umount "$T/ov/m" || fail "unmount the outer overlay"
}

test_detached_ps_logs_stop_rm() {
  setup
  id=$("$KILN" run -d --name "w$ID" busybox sh -c 'echo started; trap "echo bye; exit 0" TERM; while true; do sleep 0.1; done')
  assert_eq ${#id} 64 "id length"
  sleep 0.5
  assert_contains "$("$KILN" ps)" "w$ID"
  assert_contains "$("$KILN" ps)" "Up "
  assert_contains "$("$KILN" logs "w$ID")" started
  assert_status 125 "$KILN" run -d --name "w$ID" busybox true   # name in use
  assert_contains "$("$KILN" exec "w$ID" hostname)" "${id:0:12}"
  assert_status 1 "$KILN" rm "w$ID"                                # running
  "$KILN" stop -t 5 "w$ID" >/dev/null || fail stop
  assert_contains "$("$KILN" ps -a)" "Exited (0)"
  assert_contains "$("$KILN" logs "w$ID")" bye
  "$KILN" rm "${id:0:12}" >/dev/null || fail rm
  id2=$("$KILN" run -d busybox sleep 30)
  "$KILN" kill "$id2" >/dev/null || fail kill
  sleep 0.5
  assert_contains "$("$KILN" ps -a)" "Exited (137)"
  "$KILN" rm "$id2" >/dev/null
  "$KILN" run -d --rm busybox true >/dev/null
  sleep 1
  assert_clean
}

test_inspect_never_shows_env_values() {
  setup
  id=$(SECRETV=s3cr3t-value "$KILN" run -d -e SECRETV -e PLAIN=visible-not busybox sleep 30)
  out=$("$KILN" inspect "$id")
  assert_contains "$out" SECRETV
  assert_not_contains "$out" s3cr3t-value
  assert_not_contains "$out" visible-not
  ! grep -rq s3cr3t-value "$KILN_RUN_ROOT" "$KILN_ROOT" 2>/dev/null || fail "env value on disk"
  assert_eq "$("$KILN" exec "$id" sh -c 'echo $SECRETV')" s3cr3t-value
  assert_contains "$("$KILN" stats --no-stream)" "${id:0:12}"
  "$KILN" rm -f "$id" >/dev/null
  assert_clean
}

test_monitor_killed_then_rm_cleans() {
  setup
  id=$("$KILN" run -d busybox sleep 60)
  mon=$(jq -r .monitor_pid "$KILN_RUN_ROOT/containers/$id/record.json")
  kill -9 "$mon"
  sleep 0.3
  "$KILN" ps -a | grep -q "${id:0:12}" || fail "ps lost the container"
  "$KILN" rm -f "$id" >/dev/null || fail "rm -f"
  id=$("$KILN" run -d busybox sh -c 'sleep 0.2')
  mon=$(jq -r .monitor_pid "$KILN_RUN_ROOT/containers/$id/record.json")
  kill -9 "$mon"; sleep 1
  # Its exit status when the kernel still had it (an unreaped zombie), else "unknown".
  out=$("$KILN" ps -a 2>/dev/null)
  [[ "$out" == *"Exited (0)"* || "$out" == *"Exited (unknown)"* ]] || fail "ps after the monitor died: $out"
  # That ps released what the dead monitor held: the rootfs mount and the runtime state.
  ! grep -qF "$id" /proc/self/mountinfo || fail "rootfs still mounted after ps saw the container gone"
  [ -z "$(ls "$KILN_RUN_ROOT/runtime" 2>/dev/null | grep -v seccomp-cache)" ] || fail "runtime state left after ps"
  "$KILN" rm "$id" >/dev/null || fail "rm after monitor death"
  assert_clean
}

test_concurrent_runs_same_store() {
  setup
  for i in $(seq 1 10); do "$KILN" run -d busybox true > "$T/id.$i" & done
  for i in $(seq 1 10); do "$KILN" run --rm busybox true & done
  wait
  sleep 1
  assert_eq "$(cat "$T"/id.* | sort -u | wc -l)" 10 "ids"
  assert_eq "$("$KILN" ps -a -q | wc -l)" 10 "containers"
  "$KILN" rm $(cat "$T"/id.*) >/dev/null || fail rm
  assert_clean
}

test_debug_names_each_stage_in_order() {
  setup
  "$KILN" --debug run --rm --network none busybox true 2> err.txt || fail "run --rm failed: $(cat err.txt)"
  assert_stages_in_order err.txt main "main (sealed copy)" "image resolve" record "overlay mount" \
    "network and /etc files" spec "record save" "runtime run" parse "state lock" "cgroup create" clone \
    init:start "init:mount /proc" init:pivot_root init:seccomp "init:wait for start" ready start init:exec \
    delete done finish done
  id=$("$KILN" --debug run -d --network none busybox true 2> err.txt) || fail "run -d failed: $(cat err.txt)"
  # The monitor's stage lines reach kiln's stderr up to its report, none after.
  assert_stages_in_order err.txt main "image resolve" record "overlay mount" spec "monitor start" monitor \
    "runtime create" parse "cgroup create" clone init:start init:pivot_root "init:wait for start" ready \
    "state write" start report started done
  for _ in $(seq 100); do "$KILN" ps -a | grep -q "Exited (0)" && break; sleep 0.05; done
  assert_eq "$("$KILN" logs "$id" 2>&1)" "" "no kiln line in the container's log"
  "$KILN" rm "$id" >/dev/null || fail "rm"
  assert_clean
}
run_tests
