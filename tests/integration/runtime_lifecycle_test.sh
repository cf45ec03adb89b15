#!/usr/bin/env bash
# kiln-runtime's runc-compatible lifecycle: create/start/state/kill/delete, exec, pause,
# hooks, seccomp, terminals and the formats clients read back.
source "$(dirname "$0")/lib.sh"

kr() { "$KR" --root "$STATE" "$@"; }
status_of() { kr state "$1" | jq -r .status; }
wait_status() { # wait_status ID STATUS
  for i in $(seq 50); do [ "$(status_of "$1")" == "$2" ] && return 0; sleep 0.1; done
  fail "container $1 never became $2 (is $(status_of "$1"))"
}

test_create_start_state_kill_delete() {
  make_bundle b sh -c 'echo started > /tmp/marker; sleep 100'
  edit_config b '.root.readonly = false | .annotations = {"org.example":"yes"}'
  kr create --bundle b --pid-file "$T/pid" "$ID" || fail "create"
  pid=$(cat "$T/pid")
  [[ "$pid" =~ ^[0-9]+$ ]] || fail "pid file [$pid] is not a bare number"
  [ "$(tail -c1 "$T/pid" | od -An -c | tr -d ' ')" != '\n' ] || fail "pid file ends in a newline"
  st=$(kr state "$ID")
  assert_eq "$(echo "$st" | jq -r .status)" created
  assert_eq "$(echo "$st" | jq -r .pid)" "$pid"
  assert_eq "$(echo "$st" | jq -r '.annotations["org.example"]')" yes
  assert_eq "$(echo "$st" | jq -r .bundle)" "$T/b"
  [ ! -e b/rootfs/tmp/marker ] || fail "process ran before start"
  out=$(kr start "$ID" 2>&1) || fail "start: $out"
  assert_eq "$out" "" "start prints nothing"
  wait_status "$ID" running
  for i in $(seq 30); do [ -e b/rootfs/tmp/marker ] && break; sleep 0.1; done
  [ -e b/rootfs/tmp/marker ] || fail "process did not run after start"
  assert_status 1 kr start "$ID"
  kr kill "$ID" KILL || fail "kill"
  wait_status "$ID" stopped
  assert_eq "$(kr state "$ID" | jq -r .pid)" 0 "stopped pid"
  out=$(kr kill "$ID" 15 2>&1); [ $? -eq 1 ] || fail "kill of stopped container must exit 1"
  assert_contains "$out" "container not running"
  kr delete "$ID" || fail "delete"
  out=$(kr state "$ID" 2>&1); [ $? -eq 1 ] || fail "state of deleted"
  assert_contains "$out" "does not exist"
}

test_duplicate_id_unknown_id_and_force_delete() {
  make_bundle b sleep 100
  kr create --bundle b "$ID" || fail create
  out=$(kr create --bundle b "$ID" 2>&1); [ $? -ne 0 ] || fail "second create succeeded"
  assert_contains "$out" "already exists"
  assert_eq "$(status_of "$ID")" created "first container untouched"
  # A created container is not stopped: delete refuses it and leaves it as it was (the spec;
  # runc kills it), --force deletes it.
  out=$(kr delete "$ID" 2>&1) && fail "delete of a created container succeeded"
  assert_contains "$out" "not stopped: created"
  assert_eq "$(status_of "$ID")" created "refused delete left the container created"
  kr delete --force "$ID" || fail "force delete of a created container"
  assert_status 0 kr delete --force "nosuch$ID"
  out=$(kr delete "nosuch$ID" 2>&1); [ $? -ne 0 ] || fail
  assert_contains "$out" "does not exist"
  kr run -d --bundle b "$ID" || fail run
  out=$(kr delete "$ID" 2>&1); [ $? -ne 0 ] || fail "delete of running container"
  assert_contains "$out" "not stopped"
  kr delete --force "$ID" || fail "force delete"
}

test_list_ps_pause_resume() {
  make_bundle b sh -c 'sleep 100 & exec sleep 100'
  kr run -d --bundle b "$ID" || fail run
  assert_contains "$(kr list)" "$ID"
  assert_eq "$(kr list --format json | jq -r ".[] | select(.id==\"$ID\") | .status")" running
  n=$(kr ps --format json "$ID" | jq length); assert_eq "$n" 2 "processes in ps"
  kr pause "$ID" || fail pause
  assert_eq "$(status_of "$ID")" paused
  assert_contains "$(cat /sys/fs/cgroup/freezer/kiln/$ID/freezer.state)" FROZEN
  kr resume "$ID" || fail resume
  assert_eq "$(status_of "$ID")" running
  kr kill --all "$ID" KILL
  wait_status "$ID" stopped
  kr delete "$ID"
}

test_exec_args_env_status_and_process_file() {
  make_bundle b sleep 100
  kr run -d --bundle b "$ID" || fail run
  out=$(kr exec --env FOO=bar "$ID" sh -c 'echo $$ $FOO; id -u') || fail "exec"
  assert_eq "$out" "$(printf '2 bar\n0')"
  assert_status 3 kr exec "$ID" sh -c 'exit 3'
  cat > proc.json <<'P'
{"terminal":false,"user":{"uid":1,"gid":1},"args":["sh","-c","id -u; pwd; grep CapEff /proc/self/status"],"env":["PATH=/bin"],"cwd":"/tmp","capabilities":{"bounding":["CAP_KILL"],"effective":["CAP_KILL"],"permitted":["CAP_KILL"],"inheritable":["CAP_KILL"],"ambient":["CAP_KILL"]}}
P
  out=$(kr exec --process proc.json "$ID") || fail "exec --process: $out"
  assert_eq "$out" "$(printf '1\n/tmp\nCapEff:\t0000000000000020')"
  kr exec --detach --pid-file "$T/epid" "$ID" sleep 50 || fail "exec -d"
  epid=$(cat "$T/epid")
  # In the container's cgroup in every hierarchy (v1 ones and the unified tree).
  bad=$(grep -v ":/kiln/$ID\$" /proc/$epid/cgroup)
  [ -z "$bad" ] || fail "exec'd process not in the container's cgroup: $bad"
  [ "$(readlink /proc/$epid/ns/pid)" == "$(readlink /proc/$(kr state "$ID" | jq .pid)/ns/pid)" ] || fail "pid ns"
  out=$(kr exec "$ID" /nonexistent 2>&1); [ $? -ne 0 ] || fail "exec of missing program"
  assert_contains "$out" "No such file or directory"
  kr delete --force "$ID"
}

test_hooks_all_phases() {
  make_bundle b true
  h="$T/hooks"; mkdir -p "$h"
  for p in prestart createRuntime createContainer startContainer poststart poststop; do
    printf '#!/bin/sh\nread state; echo "%s $state" >> %s/log\n' "$p" "$h" > "$h/$p.sh"; chmod +x "$h/$p.sh"
  done
  edit_config b "
    .hooks.prestart=[{\"path\":\"$h/prestart.sh\"}] | .hooks.createRuntime=[{\"path\":\"$h/createRuntime.sh\"}] |
    .hooks.createContainer=[{\"path\":\"$h/createContainer.sh\"}] | .hooks.startContainer=[{\"path\":\"/hook.sh\"}] |
    .hooks.poststart=[{\"path\":\"$h/poststart.sh\"}] | .hooks.poststop=[{\"path\":\"$h/poststop.sh\"}]"
  # startContainer runs inside the container: its path is in the rootfs.
  printf '#!/bin/sh\nread state; echo "startContainer $state" > /tmp/start-hook\n' > b/rootfs/hook.sh; chmod +x b/rootfs/hook.sh
  edit_config b '.root.readonly = false'
  kr create --bundle b "$ID" || fail create
  kr start "$ID" || fail start
  wait_status "$ID" stopped
  kr delete "$ID" || fail delete
  log=$(cat "$h/log")
  for p in prestart createRuntime createContainer poststart poststop; do assert_contains "$log" "$p {" "$p hook ran"; done
  assert_contains "$(cat b/rootfs/tmp/start-hook)" "\"id\":\"$ID\""
  # every hook but poststop (the container is stopped then: pid 0) sees the init's pid
  assert_eq "$(grep -v poststop "$h/log" | grep -c '"pid":[1-9]')" 4 "hooks saw the pid"
  # runtime-spec 1.1 lifecycle: these run after the environment is created (step 2), so the
  # state says "created"; poststart sees "running", poststop "stopped".
  for p in prestart createRuntime createContainer; do
    assert_contains "$(grep "^$p " "$h/log")" '"status":"created"' "$p hook's status"
  done
  assert_contains "$(cat b/rootfs/tmp/start-hook)" '"status":"created"' "startContainer hook's status"
  assert_contains "$(grep '^poststart ' "$h/log")" '"status":"running"' "poststart hook's status"
  assert_contains "$(grep '^poststop ' "$h/log")" '"status":"stopped"' "poststop hook's status"
}

# runtime-spec: poststart hooks run "after the user-specified process is executed": the hook
# sees the container's pid already running the process (sleep), not kiln-runtime's init.
test_poststart_runs_after_exec() {
  make_bundle b sleep 30
  printf '#!/bin/sh\npid=$(jq .pid)\nreadlink /proc/$pid/exe > %s/exe\n' "$T" > "$T/hook.sh"; chmod +x "$T/hook.sh"
  edit_config b ".hooks.poststart=[{\"path\":\"$T/hook.sh\"}]"
  for mode in create-start run; do
    rm -f "$T/exe"
    if [ $mode = run ]; then kr run -d --bundle b "$ID" || fail "run -d"
    else kr create --bundle b "$ID" && kr start "$ID" || fail "create/start"; fi
    assert_eq "$(basename "$(cat "$T/exe")")" busybox "$mode: the poststart hook saw the process"
    kr delete --force "$ID"
  done
}

# poststart and poststop: a failing hook is a warning; the hooks after it still run and start
# and delete succeed (runtime-spec lifecycle).
test_failing_poststart_and_poststop_hooks_warn_and_go_on() {
  make_bundle b true
  edit_config b ".hooks.poststart=[{\"path\":\"/bin/false\"},{\"path\":\"/bin/sh\",\"args\":[\"sh\",\"-c\",\"echo poststart-1 >> $T/log\"]}] |
    .hooks.poststop=[{\"path\":\"/bin/false\"},{\"path\":\"/bin/sh\",\"args\":[\"sh\",\"-c\",\"echo poststop-1 >> $T/log\"]}]"
  kr create --bundle b "$ID" || fail create
  err=$(kr start "$ID" 2>&1) || fail "start failed: $err"
  assert_contains "$err" "poststart[0]" "warning names the failing hook"
  wait_status "$ID" stopped
  err=$(kr delete "$ID" 2>&1) || fail "delete failed: $err"
  assert_contains "$err" "poststop[0]" "warning names the failing hook"
  assert_eq "$(cat "$T/log")" "$(printf 'poststart-1\npoststop-1')" "the hooks after the failing one ran"
}

# A stopped container is a valid state (runc's answer), exec into it is a clear error.
test_state_and_exec_of_a_stopped_container() {
  make_bundle b true
  kr create --bundle b "$ID" && kr start "$ID" || fail "create/start"
  wait_status "$ID" stopped
  st=$(kr state "$ID") || fail "state of a stopped container"
  assert_eq "$(echo "$st" | jq -r '.status + " " + (.pid|tostring)')" "stopped 0"
  out=$(kr exec "$ID" true 2>&1); [ $? -ne 0 ] || fail "exec into a stopped container"
  assert_eq "$out" "kiln-runtime: exec in container $ID: container is stopped, not running"
  kr delete "$ID" || fail delete
}

test_failing_and_hanging_hooks_leave_nothing() {
  make_bundle b true
  edit_config b '.hooks.createRuntime=[{"path":"/bin/sh","args":["sh","-c","echo broken >&2; exit 3"]}]'
  out=$(kr create --bundle b "$ID" 2>&1); [ $? -ne 0 ] || fail "failing hook accepted"
  assert_contains "$out" "exited with status 3"
  edit_config b '.hooks.createRuntime=[{"path":"/bin/sleep","args":["sleep","100"],"timeout":1}]'
  out=$(kr create --bundle b "$ID" 2>&1); [ $? -ne 0 ] || fail "hanging hook accepted"
  assert_contains "$out" "timed out"
  [ -z "$(ls "$STATE" | grep -v seccomp-cache)" ] || fail "state left"
}

test_seccomp_errno_and_kill() {
  make_bundle b sh -c 'mkdir /tmp/x; echo mkdir=$?; grep ^Seccomp: /proc/self/status'
  edit_config b '.linux.seccomp = {"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],"syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":1}]} | .root.readonly=false'
  out=$(kr run --bundle b "$ID" 2>&1) || fail "$out"
  assert_contains "$out" "mkdir=1"
  assert_contains "$out" "Seccomp:	2"
  [ ! -d b/rootfs/tmp/x ] || fail "mkdir was not blocked"
  edit_config b '.linux.seccomp.syscalls[0].action = "SCMP_ACT_FOO"'
  out=$(kr run --bundle b "$ID" 2>&1); [ $? -ne 0 ] || fail "unknown action accepted"
  assert_contains "$out" "SCMP_ACT_FOO"
  edit_config b '.linux.seccomp.syscalls[0].action = "SCMP_ACT_KILL_PROCESS" | .process.args = ["mkdir","/tmp/y"]'
  assert_status 159 kr run --bundle b "$ID"
}

test_console_socket_gets_the_pty() {
  make_bundle b sh -c 'tty; echo hello-tty'
  edit_config b '.process.terminal = true'
  python3 "$TOP/tests/integration/console_receiver.py" "$T/console.sock" 5 > "$T/tty.out" &
  rcv=$!
  for i in $(seq 50); do [ -e "$T/console.sock.ready" ] && break; sleep 0.1; done
  kr create --bundle b --console-socket "$T/console.sock" "$ID" || fail create
  kr start "$ID" || fail start
  wait $rcv
  out=$(cat "$T/tty.out")
  assert_contains "$out" "/dev/pts/0"
  assert_contains "$out" "hello-tty"
  wait_status "$ID" stopped
  kr delete "$ID"
  out=$(kr create --bundle b "$ID" 2>&1); [ $? -ne 0 ] || fail "terminal without socket accepted"
  assert_contains "$out" "console-socket"
}

test_json_log_for_clients() {
  make_bundle b /nonexistent
  "$KR" --root "$STATE" --log-format=json --log "$T/log.json" create --bundle b "$ID" 2>/dev/null && fail "create succeeded"
  [ "$(wc -l < "$T/log.json")" -eq 1 ] || fail "log must hold exactly one JSON object: $(cat "$T/log.json")"
  jq -e '.level == "error" and (.msg | test("no such file or directory"; "i")) and (.time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T"))' "$T/log.json" >/dev/null \
    || fail "bad log line: $(cat "$T/log.json")"
}

test_preserve_fds() {
  make_bundle b sh -c 'cat <&3; readlink /proc/$$/fd/3; readlink /proc/$$/fd/4 || echo no-fd-4'
  echo passed-in > "$T/f"
  out=$(kr run --preserve-fds 1 --bundle b "$ID" 3<"$T/f" 4</ ) || fail run
  assert_contains "$out" "passed-in"
  assert_eq "$out" "$(printf 'passed-in\n%s\nno-fd-4' "$T/f")" "fd 3 passed on, the caller's fd 4 not"
}

test_cgroup_limits_visible_inside() {
  make_bundle b sh -c 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max; cat /proc/self/cgroup | grep memory'
  edit_config b '.linux.resources.memory = {"limit": 67108864} | .linux.resources.pids = {"limit": 42} | .linux.namespaces += [{"type":"cgroup"}]'
  out=$(kr run --bundle b "$ID") || fail "$out"
  assert_eq "$(echo "$out" | head -2)" "$(printf '67108864\n42')"
  [[ "$(echo "$out" | tail -1)" =~ ^[0-9]+:memory:/$ ]] || fail "own cgroup namespace: $out"
}

test_update_and_events() {
  make_bundle b sleep 100
  kr run -d --bundle b "$ID" || fail run
  kr update --memory 33554432 --pids-limit 17 "$ID" || fail update
  assert_eq "$(cat /sys/fs/cgroup/memory/kiln/$ID/memory.limit_in_bytes)" 33554432
  assert_eq "$(cat /sys/fs/cgroup/pids/kiln/$ID/pids.max)" 17
  ev=$(kr events --stats "$ID")
  assert_eq "$(echo "$ev" | jq -r .type)" stats
  [ "$(echo "$ev" | jq '.data.pids.current')" -ge 1 ] || fail "pids in stats: $ev"
  # runc's flags, several at once, sizes with suffixes, on this machine's cgroup v1
  kr update --cpu-share 512 --cpu-period 100000 --cpu-quota 20000 --memory 100M --memory-swap 200m \
    --pids-limit 50 "$ID" || fail "update of several at once"
  local c=/sys/fs/cgroup
  assert_eq "$(cat $c/cpu/kiln/$ID/cpu.shares) $(cat $c/cpu/kiln/$ID/cpu.cfs_period_us) $(cat $c/cpu/kiln/$ID/cpu.cfs_quota_us)" \
    "512 100000 20000" "cpu shares, period, quota"
  assert_eq "$(cat $c/memory/kiln/$ID/memory.limit_in_bytes) $(cat $c/memory/kiln/$ID/memory.memsw.limit_in_bytes)" \
    "104857600 209715200" "memory and swap from 100M and 200m"
  assert_eq "$(cat $c/pids/kiln/$ID/pids.max)" 50
  out=$(kr update --memory 12q "$ID" 2>&1); [ $? -ne 0 ] || fail "bad size accepted"
  assert_contains "$out" "--memory 12q: unknown suffix"
  # Realtime time comes out of the parent's budget, which a new kiln/ does not have.
  out=$(kr update --cpu-rt-period 1000000 --cpu-rt-runtime 1000 "$ID" 2>&1); [ $? -ne 0 ] || fail "rt beyond the budget"
  assert_contains "$out" "more than the parent cgroup $c/cpu/kiln grants (its cpu.rt_runtime_us is 0)"
  echo 10000 > $c/cpu/kiln/cpu.rt_runtime_us || fail "give kiln/ a realtime budget"
  kr update --cpu-rt-period 1000000 --cpu-rt-runtime 1000 "$ID"; rc=$?
  got=$(cat $c/cpu/kiln/$ID/cpu.rt_runtime_us)
  echo 0 > $c/cpu/kiln/$ID/cpu.rt_runtime_us; echo 0 > $c/cpu/kiln/cpu.rt_runtime_us
  assert_eq "$rc $got" "0 1000" "realtime runtime within the parent's budget"
  kr delete -f "$ID"
}

test_cve_2019_5736_exec_process_not_reachable() {
  # While `exec` joins the container, its process is kiln-runtime until execve. From inside,
  # a watcher tries to resolve /proc/PID/exe of every process: a host kiln-runtime path must
  # never show (the joining process is non-dumpable, so /proc/PID/exe is not accessible).
  make_bundle b sh -c 'while [ ! -e /dev/shm/stop ]; do for p in /proc/[0-9]*; do l=$(readlink $p/exe 2>/dev/null); case "$l" in *kiln*) echo "SAW $p $l";; esac; done; done; echo watched'
  sum=$(sha256sum "$KR" | cut -d' ' -f1)
  kr run -d --bundle b "$ID" > "$T/watch.out" || fail run
  for i in $(seq 30); do kr exec "$ID" true || fail "exec $i"; done
  kr exec "$ID" touch /dev/shm/stop || fail "exec touch"
  for i in $(seq 100); do [ "$(status_of "$ID")" == stopped ] && break; sleep 0.1; done
  assert_contains "$(cat "$T/watch.out")" "watched"
  assert_not_contains "$(cat "$T/watch.out")" "SAW"
  assert_eq "$(sha256sum "$KR" | cut -d' ' -f1)" "$sum" "kiln-runtime binary unchanged"
  kr delete -f "$ID"
}

run_tests
