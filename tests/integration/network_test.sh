#!/usr/bin/env bash
# kiln networks: bridge networks through netavark + aardvark-dns, published ports, names in DNS,
# --internal, isolation between networks, concurrency, bad input, and cleanup after a killed
# monitor. Requests go ONLY to 127.0.0.1 and to containers on networks the test created, and
# every request loop is bounded in count and time. After each test nothing may be left: no
# veth or bridge of a removed network (ip link), no iptables/nft rule naming a removed container
# or subnet, no lease, no reserved port, no netns mount, no aardvark-dns entry.
. "$(dirname "$0")/lib.sh"
FIX=$TOP/tests/fixtures
IMAGES=$(bash "$FIX/build-images.sh") || { echo "fixture build failed" >&2; exit 1; }
BB=/bin/busybox

# On the way out (a failed test too): kiln's own teardown of whatever the test left, so that a
# failure does not leave bridges and rules behind for the next test (lib.sh knows no networks).
teardown_all() {
  local ids; ids=$("$KILN" ps -aq --no-trunc 2>/dev/null)
  [ -n "$ids" ] && "$KILN" rm -f $ids >/dev/null 2>&1
  for n in $("$KILN" network ls -q 2>/dev/null | grep -vx kiln); do "$KILN" network rm "$n" >/dev/null 2>&1; done
  true
}
setup() {
  export KILN_ROOT=$T/store KILN_RUN_ROOT=$T/run
  trap teardown_all EXIT
  "$KILN" import "$IMAGES/rootfs.tar.gz" busybox:latest >/dev/null || fail "import busybox"
  ip -o link show type veth 2>/dev/null | wc -l > "$T/veths.before"
  iptables-save 2>/dev/null | grep -c . > "$T/rules.before" || true
}
free_port() { # a host port nothing listens on (tcp), in 20000-29999
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 10000))
    ss -Htln "sport = :$p" 2>/dev/null | grep -q . || { echo "$p"; return; }
  done
  fail "no free port"
}
# fetch URL from the host: bounded (20 tries, 5 s each at most; busybox wget's own -T crashes it)
host_fetch() {
  local i
  for i in $(seq 1 20); do
    timeout 5 "$BB" wget -q -O - "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
# the same loop inside a container: "$(in_fetch URL)" as the command of a kiln run
in_fetch() { echo "(for i in \$(seq 1 20); do timeout 5 wget -q -O - $1 2>/dev/null && exit 0; sleep 0.1; done; exit 1)"; }
subnet_of() { "$KILN" network inspect "$1" | jq -r '.[0].Subnet'; }
bridge_of() { "$KILN" network inspect "$1" | jq -r '.[0].Bridge'; }

# Nothing of any container or removed network left; $@: bridges and subnets that must be gone.
net_clean() {
  [ -z "$(ls "$KILN_RUN_ROOT/containers" 2>/dev/null)" ] || fail "records left: $(ls "$KILN_RUN_ROOT/containers")"
  [ -z "$(find "$KILN_RUN_ROOT/networks" -mindepth 2 -type f 2>/dev/null)" ] || fail "leases left: $(find "$KILN_RUN_ROOT/networks" -mindepth 2 -type f)"
  [ -z "$(ls "$KILN_RUN_ROOT/ports" 2>/dev/null)" ] || fail "port reservations left: $(ls "$KILN_RUN_ROOT/ports")"
  [ -z "$(ls "$KILN_RUN_ROOT/netns" 2>/dev/null)" ] || fail "netns files left: $(ls "$KILN_RUN_ROOT/netns")"
  [ -z "$(cat "$KILN_RUN_ROOT"/netavark/aardvark-dns/* 2>/dev/null | grep -v '^[0-9.]*$')" ] || fail "aardvark entries left: $(cat "$KILN_RUN_ROOT"/netavark/aardvark-dns/*)"
  for _ in $(seq 1 20); do pgrep -f "$KILN_RUN_ROOT/netavark" >/dev/null || break; sleep 0.1; done
  ! pgrep -f "$KILN_RUN_ROOT/netavark" >/dev/null || fail "aardvark-dns still runs: $(pgrep -af "$KILN_RUN_ROOT/netavark")"
  ! grep -qF "$T" /proc/self/mountinfo || fail "mounts left: $(grep -F "$T" /proc/self/mountinfo)"
  assert_eq "$(ip -o link show type veth 2>/dev/null | wc -l)" "$(cat "$T/veths.before")" "veth count"
  local x
  for x in "$@"; do
    if [[ "$x" == */* ]]; then
      ! iptables-save | grep -qF -- "$x" || fail "iptables rules for $x left: $(iptables-save | grep -F -- "$x")"
      ! nft list ruleset 2>/dev/null | grep -qF -- "$x" || fail "nft rules for $x left: $(nft list ruleset | grep -F -- "$x")"
    else
      ! ip link show "$x" >/dev/null 2>&1 || fail "bridge $x left"
    fi
  done
  # port forwarding rules name the network and the container: none may be left for ours
  ! iptables-save | grep -qE "dnat name: (kiln|[a-z]$ID) id:" || fail "DNAT rules left: $(iptables-save | grep -E "dnat name: (kiln|[a-z]$ID) id:")"
}

test_default_network_and_none() {
  setup
  out=$("$KILN" run --rm busybox sh -c 'ip -o -4 addr show eth0; ip route; cat /etc/hosts')
  assert_contains "$out" "inet 10.77.0." "default bridge network address"
  assert_contains "$out" "default via 10.77.0.1" "default route through the bridge"
  assert_eq "$("$KILN" run --rm --network none busybox ip -o link | wc -l)" 1 "--network none: only lo"
  assert_contains "$("$KILN" inspect "$("$KILN" run -d --name d1 busybox sleep 30)" | jq -r '.[0].NetworkSettings.Networks.kiln.IPAddress')" "10.77.0."
  "$KILN" rm -f d1 >/dev/null || fail "rm d1"
  net_clean kiln0
}

test_two_containers_by_name() {
  setup
  "$KILN" network create "n$ID" >/dev/null || fail "network create"
  sub=$(subnet_of "n$ID"); br=$(bridge_of "n$ID")
  "$KILN" run -d --name "web$ID" --network "n$ID" --network-alias www --hostname webhost busybox httpd -f -p 80 -h /etc >/dev/null || fail "run web"
  out=$("$KILN" run --rm --network "n$ID" busybox sh -c "$(in_fetch "http://web$ID/hostname") && $(in_fetch http://www/hostname) && $(in_fetch http://webhost/hostname); cat /etc/resolv.conf")
  assert_contains "$out" "webhost" "fetched by name"
  assert_contains "$out" "nameserver ${sub%.0/*}.1" "resolv.conf names the network's DNS server"
  hosts=$("$KILN" exec "web$ID" cat /etc/hosts)
  assert_contains "$hosts" "webhost" "/etc/hosts: its host name"
  assert_contains "$hosts" "web$ID" "/etc/hosts: its name"
  ip=$("$KILN" inspect "web$ID" | jq -r ".[0].NetworkSettings.Networks[\"n$ID\"].IPAddress")
  assert_contains "$("$KILN" network inspect "n$ID" | jq -r '.[0].Containers[].IPAddress')" "$ip" "network inspect lists it"
  out=$("$KILN" network rm "n$ID" 2>&1); assert_eq $? 125 "rm of a network in use"
  assert_contains "$out" "in use by container web$ID"
  "$KILN" rm -f "web$ID" >/dev/null || fail "rm web"
  "$KILN" network rm "n$ID" >/dev/null || fail "network rm"
  net_clean "$br" "$sub"
}

test_publish_reached_from_host() {
  setup
  p1=$(free_port); p2=$(free_port)
  c1=$("$KILN" run -d -p "127.0.0.1:$p1:80" busybox httpd -f -p 80 -h /etc) || fail "run -p 127.0.0.1"
  assert_eq "$(host_fetch "http://127.0.0.1:$p1/hostname")" "${c1:0:12}" "127.0.0.1:$p1"
  c2=$("$KILN" run -d -p "$p2:80" -p 80 busybox httpd -f -p 80 -h /etc) || fail "run -p HOSTPORT -p CONTAINERPORT"
  assert_eq "$(host_fetch "http://127.0.0.1:$p2/hostname")" "${c2:0:12}" "0.0.0.0:$p2 answers on 127.0.0.1"
  ports=$("$KILN" port "$c2")
  assert_contains "$ports" "80/tcp -> 0.0.0.0:$p2"
  p3=$(echo "$ports" | grep -v ":$p2\$" | sed 's/.*://')
  [ -n "$p3" ] && [ "$p3" -gt 0 ] || fail "a free host port: $ports"
  assert_eq "$(host_fetch "http://127.0.0.1:$p3/hostname")" "${c2:0:12}" "the picked port"
  assert_contains "$("$KILN" ps)" "0.0.0.0:$p3->80/tcp" "ps shows the ports"
  # rm -f of a running server frees its port at once
  "$KILN" rm -f "$c1" >/dev/null || fail "rm -f"
  c3=$("$KILN" run -d -p "127.0.0.1:$p1:80" busybox httpd -f -p 80 -h /etc) || fail "port $p1 not free after rm -f"
  assert_eq "$(host_fetch "http://127.0.0.1:$p1/hostname")" "${c3:0:12}" "the new server on the same port"
  # a port published by a container is taken for the next one; one used by a host process too
  out=$("$KILN" run --rm -p "127.0.0.1:$p1:80" busybox true 2>&1); assert_eq $? 125 "port used by a container"
  assert_contains "$out" "host port $p1 is already in use"
  # stop tears the network down too: its ports and rules are gone while its record stays
  "$KILN" stop -t 1 "$c2" >/dev/null || fail "stop"
  [ ! -e "$KILN_RUN_ROOT/ports/tcp-$p2" ] || fail "port $p2 still reserved after stop"
  ! iptables-save | grep -q "id: $c2" || fail "rules of a stopped container left"
  "$KILN" rm -f "$c2" "$c3" >/dev/null || fail "rm"
  net_clean kiln0 "127.0.0.1/32 -p tcp -m tcp --dport $p1"
}

test_internal_has_no_route_out() {
  setup
  "$KILN" network create --internal "i$ID" >/dev/null || fail "network create --internal"
  sub=$(subnet_of "i$ID"); br=$(bridge_of "i$ID")
  out=$("$KILN" run --rm --network "i$ID" busybox sh -c 'ip route; echo routes-end')
  assert_not_contains "$out" "default" "no default route"
  assert_contains "$out" "$sub" "the bridge's own subnet"
  ! iptables-save -t nat | grep -- "-s $sub" | grep -q MASQUERADE || fail "NAT for an internal network"
  assert_eq "$("$KILN" network inspect "i$ID" | jq -r '.[0].Internal')" true
  "$KILN" network rm "i$ID" >/dev/null || fail "network rm"
  net_clean "$br" "$sub"
}

test_networks_are_isolated() {
  setup
  "$KILN" network create "a$ID" >/dev/null && "$KILN" network create "b$ID" >/dev/null || fail "network create"
  sa=$(subnet_of "a$ID"); sb=$(subnet_of "b$ID"); ba=$(bridge_of "a$ID"); bb=$(bridge_of "b$ID")
  "$KILN" run -d --name "sa$ID" --network "a$ID" busybox httpd -f -p 80 -h /etc >/dev/null || fail "run"
  ip=$("$KILN" inspect "sa$ID" | jq -r ".[0].NetworkSettings.Networks[\"a$ID\"].IPAddress")
  "$KILN" run --rm --network "a$ID" busybox sh -c "$(in_fetch "http://$ip/hostname")" >/dev/null || fail "same network"
  out=$("$KILN" run --rm --network "b$ID" busybox sh -c "timeout 3 wget -q -O - http://$ip/hostname && echo REACHED; true")
  assert_not_contains "$out" "REACHED" "another network must not reach it"
  "$KILN" rm -f "sa$ID" >/dev/null
  "$KILN" network rm "a$ID" "b$ID" >/dev/null || fail "network rm"
  net_clean "$ba" "$bb" "$sa" "$sb"
}

test_twenty_concurrent_then_nothing_left() {
  setup
  "$KILN" network create "c$ID" >/dev/null || fail "network create"
  sub=$(subnet_of "c$ID"); br=$(bridge_of "c$ID")
  for i in $(seq 1 20); do "$KILN" run -d --name "c$i-$ID" --network "c$ID" -p 80 busybox sleep 60 > "$T/run$i" 2>&1 & done
  wait
  for i in $(seq 1 20); do grep -qx '[0-9a-f]\{64\}' "$T/run$i" || fail "run $i: $(cat "$T/run$i")"; done
  ips=$("$KILN" network inspect "c$ID" | jq -r '.[0].Containers[].IPAddress' | sort -u | wc -l)
  assert_eq "$ips" 20 "20 distinct addresses"
  assert_eq "$(find "$KILN_RUN_ROOT/networks/c$ID" -type f | wc -l)" 20 "20 leases"
  for i in $(seq 1 20); do "$KILN" rm -f "c$i-$ID" >/dev/null 2>&1 & done
  wait
  "$KILN" network rm "c$ID" >/dev/null || fail "network rm"
  net_clean "$br" "$sub"
}

test_bad_input_one_line_nothing_made() {
  setup
  "$KILN" network create "x$ID" --subnet 10.77.250.0/24 >/dev/null || fail "network create"
  check() { # check WANTED-TEXT cmd...
    local want=$1; shift
    local out; out=$("$@" 2>&1); local rc=$?
    assert_eq $rc 125 "exit status of [$*]"
    assert_eq "$(echo "$out" | wc -l)" 1 "one line from [$*]: $out"
    assert_contains "$out" "$want"
  }
  check "subnet 10.77.300.0/24" "$KILN" network create "y$ID" --subnet 10.77.300.0/24
  check "subnet 10.77.251.1/24" "$KILN" network create "y$ID" --subnet 10.77.251.1/24
  check "subnet 10.77.250.128/25 overlaps network x$ID" "$KILN" network create "y$ID" --subnet 10.77.250.128/25
  check "gateway 10.1.1.1" "$KILN" network create "y$ID" --subnet 10.77.251.0/24 --gateway 10.1.1.1
  check "network x$ID already exists" "$KILN" network create "x$ID"
  check "network nope$ID not found" "$KILN" run --rm --network "nope$ID" busybox true
  check "host port 70000 out of range" "$KILN" run --rm -p 70000:80 busybox true
  check "container port 0 out of range" "$KILN" run --rm -p 8080:0 busybox true
  check "publish 8080:80" "$KILN" run --rm --network none -p 8080:80 busybox true
  check "publish 8080:80" "$KILN" run --rm --network host -p 8080:80 busybox true
  check "ip 10.77.9.9: not in subnet" "$KILN" run --rm --network "x$ID" --ip 10.77.9.9 busybox true
  check "network nope$ID not found" "$KILN" network rm "nope$ID"
  check "the default network cannot be removed" "$KILN" network rm kiln
  # a host port a host process listens on
  p=$(free_port)
  timeout 20 python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(20)' "$p" &
  for _ in $(seq 1 50); do ss -Htln "sport = :$p" | grep -q . && break; sleep 0.05; done
  check "host port $p is already in use" "$KILN" run --rm -p "127.0.0.1:$p:80" busybox true
  kill %1 2>/dev/null; wait 2>/dev/null
  # a start that fails (no such command) leaves no network behind, attached or detached
  assert_status 127 "$KILN" run --rm --network "x$ID" -p "127.0.0.1:$p:80" busybox nope
  assert_status 127 "$KILN" run -d --network "x$ID" -p "127.0.0.1:$p:80" busybox nope
  net_clean
  # --ip twice
  "$KILN" run -d --name "f$ID" --network "x$ID" --ip 10.77.250.9 busybox sleep 30 >/dev/null || fail "run --ip"
  check "ip 10.77.250.9 is already in use by container" "$KILN" run --rm --network "x$ID" --ip 10.77.250.9 busybox true
  assert_eq "$("$KILN" inspect "f$ID" | jq -r ".[0].NetworkSettings.Networks[\"x$ID\"].IPAddress")" 10.77.250.9
  "$KILN" rm -f "f$ID" >/dev/null
  "$KILN" network rm "x$ID" >/dev/null || fail "network rm"
  assert_eq "$("$KILN" network ls -q)" kiln "only the default network"
  net_clean "10.77.250.0/24"
}

test_killed_monitor_then_next_command_cleans() {
  setup
  "$KILN" network create "k$ID" >/dev/null || fail "network create"
  sub=$(subnet_of "k$ID"); br=$(bridge_of "k$ID")
  p=$(free_port)
  c=$("$KILN" run -d --network "k$ID" -p "127.0.0.1:$p:80" busybox sleep 60) || fail run
  kill -9 "$("$KILN" inspect "$c" | jq '.[0].State.MonitorPid')"
  pid=$("$KILN" inspect "$c" | jq '.[0].State.Pid')
  kill -9 "$pid"
  # the next run that wants its port notices and releases it
  for _ in $(seq 1 50); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
  c2=$("$KILN" run -d --network "k$ID" -p "127.0.0.1:$p:80" busybox sleep 60) || fail "port $p not released for the next run"
  "$KILN" rm -f "$c2" >/dev/null
  "$KILN" ps -a >/dev/null
  [ -z "$(ls "$KILN_RUN_ROOT/ports")" ] || fail "port still reserved after ps settled the dead container"
  [ -z "$(find "$KILN_RUN_ROOT/networks/k$ID" -type f)" ] || fail "lease kept"
  "$KILN" rm "$c" >/dev/null || fail rm
  "$KILN" network rm "k$ID" >/dev/null || fail "network rm"
  net_clean "$br" "$sub"
}

# Each network step of `kiln run -d` killed (kill -9 of kiln itself) and failed (an injected
# errno): the run fails; ps -a, rm -f and a run with the same name and port work; nothing of
# the network attachment is left (lease, port, netns, veth, rules, DNS entry).
test_network_failpoints() {
  grep -q kiln-failpoint "$KILN" || fail "this build has no failpoints: configure with -DKILN_FAILPOINTS=ON"
  setup
  "$KILN" network create "f$ID" >/dev/null || fail "network create"
  sub=$(subnet_of "f$ID"); br=$(bridge_of "f$ID")
  p=$(free_port)
  for point in net-after-lease net-after-netns net-after-setup; do
    for action in kill error; do
      KILN_FAILPOINT=$point:$action timeout 20 "$KILN" run -d --name "fp$ID" --network "f$ID" -p "127.0.0.1:$p:80" \
        busybox sleep 60 >"$T/out" 2>&1
      rc=$?
      [ $rc -ne 0 ] || fail "run with $point:$action succeeded"
      [ $rc -ne 124 ] || fail "run with $point:$action hung"
      "$KILN" ps -a >/dev/null 2>&1 || fail "$point:$action: ps -a"
      "$KILN" rm -f "fp$ID" >/dev/null 2>&1
      c=$("$KILN" run -d --name "fp$ID" --network "f$ID" -p "127.0.0.1:$p:80" busybox httpd -f -p 80 -h /etc) ||
        fail "$point:$action: run again with the same name and port"
      assert_eq "$(host_fetch "http://127.0.0.1:$p/hostname")" "${c:0:12}" "$point:$action: the new server answers"
      "$KILN" rm -f "fp$ID" >/dev/null || fail "$point:$action: rm -f"
      out=$("$KILN" system check 2>&1) || fail "$point:$action: system check: $out"
      net_clean
    done
  done
  "$KILN" network rm "f$ID" >/dev/null || fail "network rm"
  net_clean "$br" "$sub"
}

# --network pasta (user-mode, the rootless default) as root too: a published port answers on
# the host, and rm -f leaves no pasta, netns or port reservation.
test_pasta_publishes_a_port() {
  setup
  p=$(free_port)
  c=$("$KILN" run -d --network pasta -p "127.0.0.1:$p:80" busybox httpd -f -p 80 -h /etc) || fail "run --network pasta"
  assert_eq "$(host_fetch "http://127.0.0.1:$p/hostname")" "${c:0:12}" "the published port"
  assert_eq "$("$KILN" inspect "$c" | jq -r '.[0].NetworkSettings.NetworkMode')" pasta "inspect"
  "$KILN" rm -f "$c" >/dev/null || fail "rm -f"
  for _ in $(seq 50); do pgrep -f "pasta.*$KILN_RUN_ROOT" >/dev/null || break; sleep 0.05; done
  ! pgrep -f "pasta.*$KILN_RUN_ROOT" >/dev/null || fail "pasta left"
  net_clean
}

test_container_mode_shares_the_namespace() {
  setup
  "$KILN" run -d --name "o$ID" busybox sleep 30 >/dev/null || fail run
  a=$("$KILN" exec "o$ID" ip -o -4 addr show eth0 | awk '{print $4}')
  b=$("$KILN" run --rm --network "container:o$ID" busybox ip -o -4 addr show eth0 | awk '{print $4}')
  assert_eq "$b" "$a" "same address"
  # and the same /etc/hosts and resolv.conf (copied from the other container's)
  assert_eq "$("$KILN" run --rm --network "container:o$ID" busybox cat /etc/hosts /etc/resolv.conf)" \
    "$("$KILN" exec "o$ID" cat /etc/hosts /etc/resolv.conf)" "same /etc/hosts and resolv.conf"
  assert_contains "$("$KILN" exec "o$ID" cat /etc/hosts)" "${a%/*}" "the container's address in /etc/hosts"
  "$KILN" rm -f "o$ID" >/dev/null
  net_clean kiln0
}

run_tests
