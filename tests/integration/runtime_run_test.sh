#!/usr/bin/env bash
# kiln-runtime run: real containers from a busybox bundle, checked from inside.
source "$(dirname "$0")/lib.sh"

kr() { "$KR" --root "$STATE" "$@"; }

test_pid1_hostname_and_own_proc() {
  make_bundle b sh -c 'echo pid=$$; hostname; ls /proc | grep -E "^[0-9]+$" | wc -l'
  edit_config b '.hostname = "box1"'
  out=$(kr run --bundle b "$ID") || fail "run failed: $out"
  assert_contains "$out" "pid=1"
  assert_contains "$out" "box1"
  # sh and ls (and maybe grep/wc) only: the host's processes are not visible.
  n=$(echo "$out" | tail -1); [ "$n" -le 4 ] || fail "container sees $n processes"
}

test_exit_status_and_signal_status() {
  make_bundle b sh -c 'exit 7'
  assert_status 7 kr run --bundle b "$ID"
  # A signal from inside cannot kill PID 1; kill the container's init from the host.
  make_bundle c sleep 100
  "$KR" --root "$STATE" run --pid-file "$T/pid" --bundle c "${ID}c" &
  runner=$!
  for i in $(seq 50); do [ -s "$T/pid" ] && break; sleep 0.1; done
  kill -KILL "$(cat "$T/pid")"
  wait $runner; rc=$?
  assert_eq "$rc" 137 "exit status of a container killed by SIGKILL"
}

test_signal_forwarding() {
  make_bundle b sh -c 'trap "echo got-term; exit 42" TERM; echo ready; while true; do sleep 0.1; done'
  "$KR" --root "$STATE" run --bundle b "$ID" > out.txt &
  pid=$!
  for i in $(seq 50); do grep -q ready out.txt 2>/dev/null && break; sleep 0.1; done
  kill -TERM $pid
  wait $pid; rc=$?
  assert_eq "$rc" 42 "exit status after forwarded SIGTERM"
  assert_contains "$(cat out.txt)" "got-term"
}

test_mounts_masked_and_readonly_paths() {
  make_bundle b sh -c 'cat /proc/kcore /proc/timer_list 2>/dev/null | head -c 100 | wc -c; echo x > /proc/sys/kernel/domainname 2>&1 && echo wrote-sys; touch /rootfile 2>&1 || echo root-ro; mount | grep -c " / "; mount | grep -E "^(proc|sysfs|devpts|mqueue|shm|tmpfs) " | wc -l'
  out=$(kr run --bundle b "$ID")
  lines=($out)
  assert_eq "${lines[0]}" 0 "/proc/kcore is masked"
  assert_not_contains "$out" "wrote-sys" "/proc/sys is read-only"
  assert_contains "$out" "root-ro"
}

# HOME comes from the container's /etc/passwd when process.env has none, "/" for a uid it
# does not name, and an explicit HOME is kept (runc does the same); for exec too.
test_home_from_passwd() {
  make_bundle b sh -c 'echo "home=$HOME"'
  edit_config b '.process.env = ["PATH=/bin"]'
  assert_eq "$(kr run --bundle b "$ID")" "home=/root" "root's HOME"
  edit_config b '.process.user = {"uid":65534,"gid":65534}'
  assert_eq "$(kr run --bundle b "$ID")" "home=/home" "nobody's HOME"
  edit_config b '.process.user = {"uid":4242,"gid":4242}'
  assert_eq "$(kr run --bundle b "$ID")" "home=/" "HOME of a uid /etc/passwd does not name"
  edit_config b '.process.env = ["PATH=/bin", "HOME=/data"]'
  assert_eq "$(kr run --bundle b "$ID")" "home=/data" "explicit HOME"
  make_bundle c sleep 30
  edit_config c '.process.env = ["PATH=/bin"]'
  kr run -d --bundle c "$ID" || fail "run -d"
  assert_eq "$(kr exec "$ID" sh -c 'echo $HOME')" "/root" "exec's HOME"
  assert_eq "$(kr exec --user 65534 "$ID" sh -c 'echo $HOME')" "/home" "exec --user's HOME"
  kr delete --force "$ID"
}

# Kubernetes' volume propagation, with the options containerd's CRI writes: Bidirectional is an
# rbind,rshared,rw volume and rootfsPropagation rshared: a mount made on the host under the
# volume shows in the container and one made in the container shows on the host (the volume's
# bind is a peer of the host's). HostToContainer (rslave and rslave) carries only the first.
volume_propagation_case() { # volume_propagation_case PROPAGATION -> prints "seen ct"
  local vol=$T/vol.$1 b=$T/b.$1 i
  mkdir -p "$vol"
  mount --bind "$vol" "$vol" && mount --make-shared "$vol" || fail "make a shared host mount"
  make_bundle "$b" sh -c 'i=0; while [ ! -e /vol/h/host-file ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; ls /vol/h > /vol/seen; mkdir -p /vol/c && mount -t tmpfs c /vol/c && touch /vol/c/ct-file /vol/done; sleep 30'
  edit_config "$b" ".mounts += [{\"destination\":\"/vol\",\"type\":\"bind\",\"source\":\"$vol\",\"options\":[\"rbind\",\"$1\",\"rw\"]}] |
    .linux.rootfsPropagation = \"$1\" | .process.capabilities.bounding += [\"CAP_SYS_ADMIN\"] |
    .process.capabilities.effective += [\"CAP_SYS_ADMIN\"] | .process.capabilities.permitted += [\"CAP_SYS_ADMIN\"]"
  kr run -d --bundle "$b" "$ID" >&2 || fail "run -d ($1)"
  mkdir -p "$vol/h" && mount -t tmpfs h "$vol/h" && touch "$vol/h/host-file"
  for i in $(seq 100); do [ -e "$vol/done" ] && break; sleep 0.1; done
  echo "$(cat "$vol/seen" 2>/dev/null) $([ -e "$vol/c/ct-file" ] && echo ct-visible || echo ct-hidden)"
  kr delete --force "$ID"
  umount "$vol/c" 2>/dev/null; umount "$vol/h"; umount "$vol"
}
test_volume_propagation_bidirectional_and_host_to_container() {
  assert_eq "$(volume_propagation_case rshared)" "host-file ct-visible" "Bidirectional (rshared)"
  assert_eq "$(volume_propagation_case rslave)" "host-file ct-hidden" "HostToContainer (rslave)"
}

# `spec --rootless` writes what runc's does (namespaces, id maps, mounts), and runs.
test_spec_rootless_like_runc() {
  mkdir -p k r && (cd k && kr spec --rootless) && (cd r && runc spec --rootless) || fail "spec --rootless"
  for q in .linux.namespaces .linux.uidMappings .linux.gidMappings .mounts .linux.resources; do
    assert_eq "$(jq -S -c "$q" k/config.json)" "$(jq -S -c "$q" r/config.json)" "$q as runc writes it"
  done
  busybox_rootfs k/rootfs
  edit_config k '.process.args = ["sh", "-c", "cat /proc/self/uid_map; ls /sys/class/net | wc -l"]'
  out=$(kr run --bundle k "$ID") || fail "run of the rootless spec: $out"
  assert_eq "$(echo "$out" | head -1 | tr -s ' ')" " 0 0 1" "one id mapped"
  [ "$(echo "$out" | tail -1)" -gt 1 ] || fail "no network namespace: the host's interfaces show"
}

# runtime-spec 1.2/1.3: process.scheduler, process.ioPriority (run and exec), linux.memoryPolicy;
# netDevices and intelRdt are refused by name, never ignored.
test_scheduler_io_priority_memory_policy() {
  # /proc/self/stat: field 19 is nice, 41 the policy (3: SCHED_BATCH)
  make_bundle b sh -c 'cut -d" " -f19,41 /proc/self/stat; ionice; grep -c "bind:0" /proc/self/numa_maps'
  edit_config b '.process.scheduler = {"policy":"SCHED_BATCH","nice":5} | .process.ioPriority = {"class":"IOPRIO_CLASS_IDLE","priority":0} |
    .linux.memoryPolicy = {"mode":"MPOL_BIND","nodes":"0"}'
  out=$(kr run --bundle b "$ID") || fail "run: $out"
  assert_eq "$(echo "$out" | sed -n 1p)" "5 3" "nice and policy"
  assert_eq "$(echo "$out" | sed -n 2p)" "idle" "I/O class"
  [ "$(echo "$out" | sed -n 3p)" -gt 0 ] || fail "memory policy bind:0 not in numa_maps: $out"
  make_bundle c sleep 30
  edit_config c '.process.scheduler = {"policy":"SCHED_BATCH","nice":5}'
  kr run -d --bundle c "$ID" || fail "run -d"
  printf '{"args":["sh","-c","cut -d\\" \\" -f19,41 /proc/self/stat"],"cwd":"/","env":["PATH=/bin"],"scheduler":{"policy":"SCHED_IDLE"},"ioPriority":{"class":"IOPRIO_CLASS_BE","priority":6}}' > "$T/p.json"
  assert_eq "$(kr exec --process "$T/p.json" "$ID")" "0 5" "exec's own policy (SCHED_IDLE)"
  kr delete --force "$ID"
  for bad in '.process.scheduler = {"policy":"SCHED_OTHER","priority":5}|only SCHED_FIFO and SCHED_RR take a priority' \
             '.process.scheduler = {"policy":"SCHED_DEADLINE","runtime":20,"deadline":10}|runtime <= deadline <= period' \
             '.process.scheduler = {"nice":1}|process.scheduler.policy: missing' \
             '.process.ioPriority = {"class":"IOPRIO_CLASS_BE","priority":8}|must be between 0 and 7' \
             '.linux.memoryPolicy = {"mode":"MPOL_BIND"}|MPOL_BIND needs nodes' \
             '.linux.memoryPolicy = {"mode":"MPOL_DEFAULT","nodes":"0"}|takes no nodes' \
             '.linux.netDevices = {"eth9":{"name":"ctr0"}}|linux.netDevices: moving host network devices' \
             '.linux.intelRdt = {"closID":"x"}|linux.intelRdt:'; do
    make_bundle d true; edit_config d "${bad%%|*}"
    out=$(kr run --bundle d "$ID" 2>&1); [ $? -ne 0 ] || fail "accepted: ${bad%%|*}"
    assert_contains "$out" "${bad#*|}"
    rm -rf d
  done
}

test_devices() {
  make_bundle b sh -c 'ls -l /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty; readlink /dev/ptmx; readlink /dev/fd; readlink /dev/stdin; head -c 4 /dev/zero | wc -c; echo hi > /dev/null && echo null-ok; ls -l /dev/kiln0'
  edit_config b '.linux.devices = [{"path":"/dev/kiln0","type":"c","major":1,"minor":3,"fileMode":432,"uid":0,"gid":0}]'
  out=$(kr run --bundle b "$ID") || fail "$out"
  assert_contains "$out" "pts/ptmx"
  assert_contains "$out" "/proc/self/fd"
  assert_contains "$out" "null-ok"
  assert_contains "$out" "crw-rw----"
  assert_contains "$out" "1,   7"
}

test_capabilities_match_spec() {
  make_bundle b sh -c 'grep -E "^Cap(Inh|Prm|Eff|Bnd|Amb)" /proc/self/status'
  edit_config b '.process.capabilities = {"bounding":["CAP_CHOWN","CAP_KILL","CAP_NET_BIND_SERVICE"],"effective":["CAP_CHOWN","CAP_KILL"],"permitted":["CAP_CHOWN","CAP_KILL"]}'
  out=$(kr run --bundle b "$ID")
  # CAP_CHOWN=0 -> bit 0, CAP_KILL=5 -> bit 5, CAP_NET_BIND_SERVICE=10 -> bit 10
  assert_contains "$out" "CapEff:	0000000000000021"
  assert_contains "$out" "CapPrm:	0000000000000021"
  assert_contains "$out" "CapBnd:	0000000000000421"
  # CVE-2022-29162: nothing inheritable unless asked for
  assert_contains "$out" "CapInh:	0000000000000000"
  assert_contains "$out" "CapAmb:	0000000000000000"
}

test_user_groups_umask_cwd_env_rlimits() {
  make_bundle b sh -c 'id -u; id -g; id -G; umask; pwd; echo "$FOO"; ulimit -n; ulimit -Hn'
  edit_config b '.process.user = {"uid":1000,"gid":1001,"additionalGids":[5,7],"umask":23} | .process.cwd = "/work/dir" | .process.env += ["FOO=bar baz"] | .process.rlimits = [{"type":"RLIMIT_NOFILE","soft":321,"hard":654}]'
  out=$(kr run --bundle b "$ID") || fail "$out"
  assert_eq "$out" "$(printf '1000\n1001\n1001 5 7\n0027\n/work/dir\nbar baz\n321\n654')"
}

# The cwd is entered while still root (as runc): a user may start in a directory only root can
# enter (an image's WorkingDir /root, 0700, with --user 65534); and before a seccomp filter is
# loaded, so a profile that denies getcwd (the suite's linux_seccomp) does not fail the check
# that the cwd is inside the container.
test_cwd_entered_as_root_before_seccomp() {
  make_bundle b sh -c 'pwd; id -u'
  chmod 700 b/rootfs/root
  edit_config b '.process.user = {"uid":65534,"gid":65534} | .process.cwd = "/root"'
  out=$(kr run --bundle b "$ID" 2>&1) || fail "cwd only root may enter: $out"
  assert_eq "$out" "$(printf '/root\n65534')"
  make_bundle c sh -c 'cd / && echo started'
  edit_config c '.process.noNewPrivileges = false | .linux.seccomp = {"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getcwd"],"action":"SCMP_ACT_ERRNO"}]}'
  out=$(kr run --bundle c "${ID}c" 2>&1) || fail "seccomp denying getcwd: $out"
  assert_eq "$out" started
}

# A capability the runtime itself does not hold (outside its bounding set) is named in the
# error, not a bare "Operation not permitted" (the suite's process_capabilities on a host that
# withholds CAP_SYS_RESOURCE).
test_capability_the_runtime_lacks_is_named() {
  make_bundle b true
  edit_config b '.process.capabilities.permitted += ["CAP_WAKE_ALARM"] | .process.capabilities.effective += ["CAP_WAKE_ALARM"] | .process.capabilities.bounding += ["CAP_WAKE_ALARM"]'
  out=$(setpriv --bounding-set=-wake_alarm "$KR" --root "$STATE" run --bundle b "$ID" 2>&1) && fail "ran without CAP_WAKE_ALARM"
  assert_contains "$out" "CAP_WAKE_ALARM is not in the runtime's own bounding set"
}

test_namespaces_new_and_by_path() {
  make_bundle b sh -c 'readlink /proc/self/ns/net /proc/self/ns/ipc /proc/self/ns/uts'
  out=$(kr run --bundle b "$ID")
  assert_not_contains "$out" "$(readlink /proc/self/ns/net)" "new net namespace"
  # Join an existing network namespace by path.
  ip netns add "$ID" || fail "ip netns add"
  make_bundle c sh -c 'readlink /proc/self/ns/net'
  edit_config c "(.linux.namespaces[] | select(.type==\"network\")) |= {\"type\":\"network\",\"path\":\"/run/netns/$ID\"}"
  out=$(kr run --bundle c "${ID}c")
  want=$(ip netns exec "$ID" readlink /proc/self/ns/net)
  ip netns delete "$ID"
  assert_eq "$out" "$want" "joined net namespace"
}

test_user_namespace_mappings() {
  make_bundle b sh -c 'cat /proc/self/uid_map /proc/self/gid_map; id -u'
  edit_config b '.linux.namespaces += [{"type":"user"}] | .linux.uidMappings=[{"containerID":0,"hostID":100000,"size":65536}] | .linux.gidMappings=[{"containerID":0,"hostID":100000,"size":65536}]'
  chown -R 100000:100000 b/rootfs; chmod 755 "$T" b
  out=$(kr run --bundle b "$ID") || fail "$out"
  assert_contains "$out" "100000"
  assert_eq "$(echo "$out" | tail -1)" 0
}

# The process starts in its own cgroup in every hierarchy (v1 ones and the unified tree): clone3
# places it in the unified one, the init moves itself into the v1 ones before anything runs,
# also from inside a new user namespace.
test_process_starts_in_its_cgroups_every_hierarchy() {
  want=$(awk -F: '{print $1 ":" $2}' /proc/self/cgroup | sort)
  make_bundle b cat /proc/self/cgroup
  out=$(kr run --bundle b "$ID") || fail "$out"
  assert_eq "$(echo "$out" | awk -F: '{print $1 ":" $2}' | sort)" "$want" "hierarchies listed"
  bad=$(echo "$out" | grep -v ":/kiln/$ID\$")
  [ -z "$bad" ] || fail "not in /kiln/$ID: $bad"
  make_bundle u cat /proc/self/cgroup
  edit_config u '.linux.namespaces += [{"type":"user"}] | .linux.uidMappings=[{"containerID":0,"hostID":100000,"size":65536}] | .linux.gidMappings=[{"containerID":0,"hostID":100000,"size":65536}]'
  chown -R 100000:100000 u/rootfs; chmod 755 "$T" u
  out=$(kr run --bundle u "${ID}u") || fail "$out"
  bad=$(echo "$out" | grep -v ":/kiln/${ID}u\$")
  [ -z "$bad" ] && [ -n "$out" ] || fail "user namespace: not in /kiln/${ID}u: $bad"
}

test_sysctl_and_readonly_root_off() {
  make_bundle b sh -c 'cat /proc/sys/net/ipv4/ip_forward; touch /newfile && echo rw-ok'
  edit_config b '.linux.sysctl = {"net.ipv4.ip_forward":"1"} | .root.readonly = false'
  out=$(kr run --bundle b "$ID") || fail "$out"
  assert_eq "$out" "$(printf '1\nrw-ok')"
  rm -f b/rootfs/newfile
}

test_bind_mounts_with_options() {
  mkdir -p host/data; echo hello > host/data/f
  make_bundle b sh -c 'cat /data/f; echo x > /data/g 2>&1 || echo data-ro; cat /etc/hostfile'
  echo hostfile > host/file
  edit_config b ".mounts += [{\"destination\":\"/data\",\"type\":\"bind\",\"source\":\"$T/host/data\",\"options\":[\"rbind\",\"ro\",\"nosuid\",\"rprivate\"]},{\"destination\":\"/etc/hostfile\",\"type\":\"none\",\"source\":\"$T/host/file\",\"options\":[\"bind\"]}]"
  out=$(kr run --bundle b "$ID") || fail "$out"
  assert_eq "$out" "$(printf 'hello\ndata-ro\nhostfile')"
}

test_no_leftover_mounts_or_processes() {
  make_bundle b true
  before=$(wc -l < /proc/self/mountinfo)
  kr run --bundle b "$ID" || fail "run"
  after=$(wc -l < /proc/self/mountinfo)
  assert_eq "$after" "$before" "host mount count"
  [ -z "$(ls "$STATE" 2>/dev/null)" ] || fail "state left: $(ls "$STATE")"
}

# A spec without a mount namespace (the suite's linux_ns_itype) runs in the host's mount table,
# as runc runs it; unlike runc, delete (and a failed create, and the end of run) unmounts
# everything it mounted on the bundle.
test_no_mount_namespace_runs_and_unmounts_at_delete() {
  make_bundle b sh -c 'test -e /marker && ls /proc/self/ns >/dev/null && exec sleep 100'
  touch b/rootfs/marker
  edit_config b '.linux.namespaces |= map(select(.type != "mount"))'
  root=$(realpath b/rootfs)
  host_root=$(readlink /proc/self/root)
  kr create --bundle b "$ID" || fail "create without a mount namespace"
  pid=$(kr state "$ID" | jq -r .pid)
  assert_eq "$(readlink /proc/self/ns/mnt)" "$(readlink /proc/$pid/ns/mnt)" "shares the host's mount namespace"
  n=$(awk -v r="$root" '$5 == r || index($5, r "/") == 1' /proc/self/mountinfo | wc -l)
  [ "$n" -ge 5 ] || fail "expected the rootfs bind, proc, dev... in the host's mountinfo, found $n"
  assert_eq "$(readlink /proc/self/root)" "$host_root" "the runtime did not move the host's root"
  out=$(kr exec "$ID" sh -c 'test -e /marker && echo in-root') || fail "exec: $out"
  assert_eq "$out" in-root "exec enters the container's root"
  kr start "$ID" || fail start
  kr kill "$ID" KILL
  for i in $(seq 50); do [ "$(kr state "$ID" | jq -r .status)" = stopped ] && break; sleep 0.1; done
  kr delete "$ID" || fail delete
  left=$(grep -F "$root" /proc/self/mountinfo)
  [ -z "$left" ] || fail "mounts left on the bundle after delete: $left"
  # run: the same, in the foreground.
  edit_config b '.process.args = ["sh", "-c", "test -e /marker && echo ran"]'
  out=$(kr run --bundle b "${ID}r" 2>&1) || fail "run: $out"
  assert_eq "$out" ran
  left=$(grep -F "$root" /proc/self/mountinfo)
  [ -z "$left" ] || fail "mounts left on the bundle after run: $left"
  # A create that fails once the mounts are made leaves none either.
  edit_config b '.process.args = ["/no/such/binary"]'
  out=$(kr create --bundle b "${ID}f" 2>&1) && fail "create of a missing binary succeeded"
  left=$(grep -F "$root" /proc/self/mountinfo)
  [ -z "$left" ] || fail "mounts left on the bundle after a failed create: $left"
  [ -z "$(ls "$STATE")" ] || fail "state left: $(ls "$STATE")"
}

test_cve_2024_21626_no_fd_leaks_and_cwd_inside() {
  make_bundle b sh -c 'ls /proc/self/fd | sort -n | tr "\n" " "'
  # The caller leaks fds 7 (a host dir) and 9 (a file) without CLOEXEC.
  out=$(kr run --bundle b "$ID" 7</ 9<"$T/b/config.json")
  assert_eq "$out" "0 1 2 3 " "only stdio (+ ls's own dir fd) inside"
  # A cwd naming a leaked fd through /proc must not reach the host.
  make_bundle c sh -c 'pwd; ls'
  edit_config c '.process.cwd = "/proc/self/fd/7"'
  out=$(kr run --bundle c "${ID}c" 7</ 2>&1)
  assert_not_contains "$out" "boot" "host root listed"
}

test_cve_2019_5736_runtime_binary_unreachable() {
  sum=$(sha256sum "$KR" | cut -d' ' -f1)
  # From inside, try to open every /proc/*/exe for writing while the container runs
  # (including our own init while it is still kiln-runtime: it is non-dumpable).
  make_bundle b sh -c 'for i in 1 2 3; do for p in /proc/[0-9]*; do echo x 2>/dev/null >> $p/exe && echo "WROTE $p"; done; done; echo done'
  out=$(kr run --bundle b "$ID" 2>&1)
  assert_contains "$out" "done"
  assert_not_contains "$out" "WROTE"
  assert_eq "$(sha256sum "$KR" | cut -d' ' -f1)" "$sum" "kiln-runtime binary unchanged"
}

test_bad_input_one_clear_line() {
  out=$(kr run --bundle "$T/nope" "$ID" 2>&1); rc=$?
  [ $rc -ne 0 ] || fail "missing bundle accepted"
  assert_contains "$out" "$T/nope"
  make_bundle b true
  echo '{ not json' > b/config.json
  out=$(kr run --bundle b "$ID" 2>&1); [ $? -ne 0 ] || fail "malformed accepted"
  assert_contains "$out" "malformed JSON"
  make_bundle c true
  edit_config c '.linux.namespaces += [{"type":"foo"}]'
  out=$(kr run --bundle c "$ID" 2>&1); [ $? -ne 0 ] || fail
  assert_contains "$out" 'namespace type "foo": unknown'
  edit_config c 'del(.linux.namespaces[-1]) | .process.capabilities.bounding += ["CAP_NOPE"]'
  out=$(kr run --bundle c "$ID" 2>&1); [ $? -ne 0 ] || fail
  assert_contains "$out" 'capability "CAP_NOPE": unknown'
  edit_config c '.process.capabilities.bounding -= ["CAP_NOPE"] | .process.rlimits += [{"type":"RLIMIT_X","soft":1,"hard":1}]'
  out=$(kr run --bundle c "$ID" 2>&1); [ $? -ne 0 ] || fail
  assert_contains "$out" 'rlimit "RLIMIT_X": unknown'
  make_bundle d /nonexistent
  out=$(kr run --bundle d "$ID" 2>&1); [ $? -ne 0 ] || fail
  # podman matches this text case-insensitively to report exit 127
  assert_contains "$out" "/nonexistent: No such file or directory"
  make_bundle e true
  rm -rf e/rootfs
  out=$(kr run --bundle e "$ID" 2>&1); [ $? -ne 0 ] || fail
  assert_contains "$out" "rootfs"
  [ "$(echo "$out" | wc -l)" -eq 1 ] || fail "more than one line: $out"
  [ -z "$(ls "$STATE" 2>/dev/null)" ] || fail "state left: $(ls "$STATE")"
}

test_loopback_up_in_new_network_namespace() {
  make_bundle b sh -c 'ip link show lo | grep -c "UP"; ping -c1 -W1 127.0.0.1 >/dev/null && echo ping-ok'
  out=$(kr run --bundle b "$ID") || fail "$out"
  assert_contains "$out" "ping-ok"
}

test_time_namespace_offsets() {
  make_bundle b sh -c 'cut -d. -f1 /proc/uptime'
  edit_config b '.linux.namespaces += [{"type":"time"}] | .linux.timeOffsets = {"boottime":{"secs":86400,"nanosecs":0},"monotonic":{"secs":86400}}'
  out=$(kr run --bundle b "$ID") || fail "$out"
  host=$(cut -d. -f1 /proc/uptime)
  [ "$out" -ge $((host + 86000)) ] || fail "uptime inside $out, host $host: offset not applied"
}

test_debug_names_each_stage_in_order() {
  make_bundle b true
  "$KR" --debug --root "$STATE" run --bundle b "$ID" 2> err.txt || fail "run failed: $(cat err.txt)"
  assert_stages_in_order err.txt main "main (sealed copy)" parse "state lock" "cgroup create" launch clone "id maps" \
    init:start "init:join cgroup" "init:join namespaces" "init:mount rootfs" "init:mount /proc" "init:mount /dev" \
    init:devices init:pivot_root "init:set up process" "init:user and capabilities" "init:wait for start" ready \
    "state write" start init:exec delete done
  # The parent says "wait" once it sent start: before or after the init's exec stamp.
  assert_eq "$(stage_names err.txt | grep -c '^wait$')" 1 "one wait stage"
  # With a seccomp filter, its load is a stage of its own (with noNewPrivileges, the last before
  # exec).
  edit_config b '.linux.seccomp = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mknod"], "action": "SCMP_ACT_ERRNO"}]}'
  "$KR" --debug --root "$STATE" run --bundle b "$ID" 2> err.txt || fail "run failed: $(cat err.txt)"
  assert_stages_in_order err.txt parse "seccomp prepare" "state lock" "init:set up process" \
    "init:user and capabilities" init:seccomp init:exec done
  # Without --debug: no stage lines.
  "$KR" --root "$STATE" run --bundle b "$ID" 2> err.txt || fail "run failed"
  assert_eq "$(stage_names err.txt)" "" "no stage lines without --debug"
}
run_tests
