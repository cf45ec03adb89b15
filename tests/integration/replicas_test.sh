#!/usr/bin/env bash
# kiln run -d --replicas N: N ordinary containers from one kiln process (each its own
# namespaces, cgroup, overlay upper, record, monitor), named PREFIX-1..N; ps and rm -f see
# them as any container; a failed replica is named and leaves the others running; flags that
# name one thing N containers cannot share are refused before anything is made. Every test
# checks that nothing is left (records, container dirs, mounts; lib.sh: cgroups, processes).
. "$(dirname "$0")/lib.sh"
IMAGES=$(bash "$TOP/tests/fixtures/build-images.sh") || { echo "fixture build failed" >&2; exit 1; }

setup() {
  export KILN_ROOT=$T/store KILN_RUN_ROOT=$T/run
  "$KILN" import "$IMAGES/rootfs.tar.gz" busybox:latest >/dev/null || fail "import busybox"
}
assert_clean() {
  [ -z "$(ls "$KILN_RUN_ROOT/containers" 2>/dev/null)" ] || fail "records left: $(ls "$KILN_RUN_ROOT/containers")"
  [ -z "$(ls "$KILN_RUN_ROOT/runtime" 2>/dev/null | grep -v seccomp-cache)" ] || fail "runtime state left"
  [ -z "$(ls "$KILN_ROOT/containers" 2>/dev/null | grep -v '^\.init$')" ] || fail "container dirs left"
  ! grep -qF "$T" /proc/self/mountinfo || fail "mounts left: $(grep -F "$T" /proc/self/mountinfo)"
}
running_names() { "$KILN" ps --format '{{.Names}}' 2>/dev/null || "$KILN" ps | awk 'NR > 1 {print $2}'; }
remove_all() { "$KILN" rm -f $("$KILN" ps -aq --no-trunc) >/dev/null || fail "rm -f"; }

test_replicas_are_separate_ordinary_containers() {
  setup
  out=$("$KILN" run -d --replicas 5 --name web --network none busybox sleep 100) || fail "replicas: $out"
  assert_eq "$(echo "$out" | wc -l)" 5 "one id per replica"
  assert_eq "$(echo "$out" | sort -u | wc -l)" 5 "five different ids"
  assert_eq "$("$KILN" ps | awk 'NR > 1 {print $2}' | sort | tr '\n' ' ')" "web-1 web-2 web-3 web-4 web-5 " "ps names"
  for i in 1 2 3 4 5; do
    # its own pid namespace (sleep is pid 1 in each), uts, cgroup, upper dir
    "$KILN" exec "web-$i" sh -c 'for n in pid mnt uts; do readlink /proc/1/ns/$n; done; cat /proc/1/comm; grep ^Seccomp: /proc/1/status' >> ns.txt ||
      fail "exec in web-$i"
    id=$("$KILN" inspect "web-$i" | jq -r '.[0].Id')
    [ "$(echo "$out" | grep -c "^$id$")" = 1 ] || fail "web-$i ($id) is not one of the printed ids"
    [ -d "$KILN_ROOT/containers/$id/upper" ] || fail "web-$i has no upper dir of its own"
    [ -n "$(find /sys/fs/cgroup -maxdepth 3 -type d -path "*/kiln/$id" | head -1)" ] || fail "web-$i has no cgroup of its own"
  done
  assert_eq "$(grep -c '^sleep$' ns.txt)" 5 "sleep is pid 1 in every replica"
  assert_eq "$(grep -c '^Seccomp:.2$' ns.txt)" 5 "every replica has the seccomp filter (one program, reused)"
  assert_eq "$(grep -v '^sleep$' ns.txt | grep -v '^Seccomp:' | sort -u | wc -l)" 15 "five pid, mount and uts namespaces"
  # The upper dirs are not shared: a file written in one is only there.
  "$KILN" exec web-1 sh -c 'echo one > /only-here' || fail "write in web-1"
  assert_status 1 "$KILN" exec web-2 test -e /only-here
  # kill one: the others run on; rm -f of them all leaves nothing
  "$KILN" rm -f web-2 >/dev/null || fail "rm -f web-2"
  assert_eq "$("$KILN" ps -q | wc -l)" 4 "four left after rm -f web-2"
  remove_all
  assert_clean
}

test_failed_replica_is_named_and_the_others_run() {
  setup
  holder=$("$KILN" run -d --name web-3 --network none busybox sleep 100) || fail "web-3"
  out=$("$KILN" run -d --replicas 5 --name web --network none busybox sleep 100 2> err.txt); rc=$?
  assert_eq "$rc" 125 "exit status when a replica failed"
  assert_contains "$(cat err.txt)" "replica 3 (web-3): name web-3 is already in use by container ${holder:0:12}"
  assert_eq "$(wc -l < err.txt)" 1 "only replica 3 failed: $(cat err.txt)"
  assert_eq "$(echo "$out" | wc -l)" 4 "the ids of the four that started"
  assert_eq "$("$KILN" ps | awk 'NR > 1 {print $2}' | sort | tr '\n' ' ')" "web-1 web-2 web-3 web-4 web-5 " "ps names"
  assert_eq "$("$KILN" inspect web-3 | jq -r '.[0].Id')" "$holder" "web-3 is still the first one"
  # a replica whose command cannot be executed: the failure (126/127) is named per replica
  out=$("$KILN" run -d --replicas 2 --name bad --network none busybox /no/such 2> err.txt); rc=$?
  assert_eq "$rc" 127 "exit status of a replica set whose command is missing"
  assert_contains "$(cat err.txt)" "replica 1 (bad-1): exec: \"/no/such\""
  assert_contains "$(cat err.txt)" "replica 2 (bad-2): exec: \"/no/such\""
  [ -z "$out" ] || fail "ids printed for replicas that did not start: $out"
  assert_eq "$("$KILN" ps -a | grep -c bad-)" 0 "nothing kept of the failed replicas"
  remove_all
  assert_clean
}

test_refused_flags_make_nothing() {
  setup
  for args in "--rm -d" "-d -i" "-d -t" "-d --ip 10.77.0.50" "-d -p 8080:80" "-d -p 127.0.0.1:8080:80" ""; do
    # shellcheck disable=SC2086
    out=$("$KILN" run $args --replicas 3 --name r busybox true 2>&1); rc=$?
    assert_eq "$rc" 125 "exit status of --replicas with [$args]"
    assert_contains "$out" "--replicas" "the error names --replicas ([$args])"
  done
  assert_contains "$("$KILN" run -d --replicas 0 busybox true 2>&1)" "replicas 0: must be between 1 and 10000"
  assert_status 125 "$KILN" run -d --replicas 3 no-such-image true
  assert_eq "$("$KILN" ps -aq)" "" "nothing made"
  assert_clean
}

test_replicas_on_the_default_network_get_their_own_address() {
  setup
  "$KILN" run -d --replicas 3 --name net busybox sleep 100 > ids.txt || fail "replicas on the default network"
  for i in 1 2 3; do "$KILN" inspect "net-$i" | jq -r '.[0].NetworkSettings.Networks.kiln.IPAddress' >> ips.txt; done
  assert_eq "$(sort -u ips.txt | grep -c '^10\.77\.0\.')" 3 "three different addresses: $(cat ips.txt)"
  # -p CONTAINERPORT: a free host port each
  "$KILN" run -d --replicas 2 --name pub -p 80 busybox sleep 100 > /dev/null || fail "replicas with -p 80"
  assert_eq "$("$KILN" port pub-1 | sort -u | wc -l)" 1 "pub-1 has a host port"
  [ "$("$KILN" port pub-1)" != "$("$KILN" port pub-2)" ] || fail "two replicas got the same host port"
  remove_all
  assert_clean
}

run_tests
