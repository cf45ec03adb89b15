#!/usr/bin/env bash
# Rootless: kiln-runtime run by ordinary users (made by this suite, removed at its end): one
# with /etc/subuid and /etc/subgid ranges (mapped through newuidmap/newgidmap), one without (its
# own id only). This machine's cgroups are a v1/v2 hybrid, so no cgroup can be delegated: the
# containers run without a cgroup of their own and limits are refused. Rootless podman drives
# kiln-runtime too. Nothing may be left: state, processes, mounts, cgroups.
. "$(dirname "$0")/lib.sh"

SUB_USER=kiln-rl-sub
NOSUB_USER=kiln-rl-nosub

add_users() {
  for u in $SUB_USER $NOSUB_USER; do
    id "$u" >/dev/null 2>&1 || useradd -m -s /bin/sh "$u" || { echo "useradd $u failed" >&2; exit 1; }
  done
  # useradd gives new users ranges; the second one must have none.
  sed -i "/^$NOSUB_USER:/d" /etc/subuid /etc/subgid
  grep -q "^$SUB_USER:" /etc/subuid || usermod --add-subuids 200000-265535 --add-subgids 200000-265535 $SUB_USER
}
remove_users() {
  for u in $SUB_USER $NOSUB_USER; do
    pkill -9 -u "$u" 2>/dev/null
    userdel -r "$u" >/dev/null 2>&1
    sed -i "/^$u:/d" /etc/subuid /etc/subgid
  done
  true
}
# pasta needs /dev/net/tun, which Debian makes 0666; this machine's is 0600: open it up for the
# suite and put it back after.
TUN_MODE_FILE=/tmp/kiln-rootless-tun-mode
open_tun() { [ -e /dev/net/tun ] && stat -c %a /dev/net/tun > $TUN_MODE_FILE && chmod 0666 /dev/net/tun; }
restore_tun() { [ -f $TUN_MODE_FILE ] && chmod "$(cat $TUN_MODE_FILE)" /dev/net/tun; rm -f $TUN_MODE_FILE; }
# /dev/fuse is 0600 here too (Debian: 0666); the fuse-overlayfs case opens it and puts it back.
FUSE_MODE_FILE=/tmp/kiln-rootless-fuse-mode
open_fuse() { [ -e /dev/fuse ] && { [ -f $FUSE_MODE_FILE ] || stat -c %a /dev/fuse > $FUSE_MODE_FILE; } && chmod 0666 /dev/fuse; }
restore_fuse() { [ -f $FUSE_MODE_FILE ] && chmod "$(cat $FUSE_MODE_FILE)" /dev/fuse; rm -f $FUSE_MODE_FILE; }
if [ -z "${KILN_ONE_TEST:-}" ]; then
  command -v newuidmap >/dev/null || { echo "rootless_test: newuidmap missing (install uidmap)" >&2; exit 1; }
  add_users
  open_tun
  trap 'remove_users; restore_tun; restore_fuse' EXIT
fi

# as USER CMD...: runs CMD as USER with a private XDG_RUNTIME_DIR under $T.
as() {
  local u=$1; shift
  local xdg=$T/xdg-$u
  [ -d "$xdg" ] || { mkdir -p "$xdg"; chown "$u": "$xdg"; chmod 700 "$xdg"; }
  runuser -u "$u" -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$(getent passwd "$u" | cut -d: -f6)" \
    XDG_RUNTIME_DIR="$xdg" "$@"
}
subuid_start() { grep "^$1:" /etc/subuid | cut -d: -f2; }
# A bundle the user can read, with the rootless spec (`kiln-runtime spec --rootless` run as USER).
rootless_bundle() { # rootless_bundle USER DIR [args...]
  local u=$1 dir=$2; shift 2
  chmod 711 "$T"
  mkdir -p "$dir"; busybox_rootfs "$dir/rootfs"
  chown "$u": "$dir"
  (cd "$dir" && as "$u" "$KR" spec --rootless) || fail "kiln-runtime spec --rootless as $u"
  if [ $# -gt 0 ]; then
    local args; args=$(printf '%s\n' "$@" | jq -R . | jq -s -c .)
    edit_config "$dir" ".process.args = $args | .process.terminal = false"
  fi
  chown "$u": "$dir/config.json"
}
# edit_config, keeping the file the user's.
edit_user_config() { # edit_user_config USER BUNDLE JQ-EXPR
  edit_config "$2" "$3"; chown "$1": "$2/config.json"
}
# Nothing of container $1 of user $2: no state dir, no cgroup, no process.
assert_rootless_gone() {
  [ ! -e "$T/xdg-$2/kiln-runtime/$1" ] || fail "state of $1 left"
  [ -z "$(find /sys/fs/cgroup -maxdepth 4 -type d -name "$1" 2>/dev/null)" ] || fail "cgroups of $1 left"
  for _ in $(seq 50); do pgrep -u "$2" -f sleep >/dev/null || break; sleep 0.05; done
  ! pgrep -u "$2" -f sleep >/dev/null || fail "processes of $2 left: $(pgrep -a -u "$2")"
}

# The user without subordinate ids: root in the container is the user itself, one id mapped,
# setgroups denied (the kernel demands it), no cgroup made, the state under $XDG_RUNTIME_DIR.
test_single_id_mapping() {
  local uid; uid=$(id -u $NOSUB_USER)
  rootless_bundle $NOSUB_USER "$T/b" sh -c 'cat /proc/self/uid_map /proc/self/setgroups; id -u; ls /sys/fs/cgroup | wc -l'
  out=$(cd "$T/b" && as $NOSUB_USER "$KR" run "$ID" 2>&1) || fail "run: $out"
  assert_eq "$(echo "$out" | head -1 | tr -s ' ' | sed 's/^ //')" "0 $uid 1" "uid_map"
  assert_eq "$(echo "$out" | sed -n 2p)" deny "setgroups"
  assert_eq "$(echo "$out" | sed -n 3p)" 0 "id -u in the container"
  assert_eq "$(echo "$out" | sed -n 4p)" 0 "/sys/fs/cgroup is empty: no cgroup of its own"
  assert_rootless_gone "$ID" $NOSUB_USER
}

# The user with a range: 0 -> the user, 1..65536 -> its subordinate ids (newuidmap/newgidmap);
# files of uid 1000 and 65534 can be made in the container.
test_subuid_range_mapping() {
  local uid start; uid=$(id -u $SUB_USER); start=$(subuid_start $SUB_USER)
  rootless_bundle $SUB_USER "$T/b" sh -c 'cat /proc/self/uid_map; touch /tmp/a /tmp/b; chown 1000:1000 /tmp/a; chown 65534:65534 /tmp/b; stat -c %u /tmp/a /tmp/b; rm /tmp/a /tmp/b'
  edit_user_config $SUB_USER "$T/b" ".linux.uidMappings = [{containerID:0,hostID:$uid,size:1},{containerID:1,hostID:$start,size:65536}] |
    .linux.gidMappings = [{containerID:0,hostID:$(id -g $SUB_USER),size:1},{containerID:1,hostID:$start,size:65536}] |
    .mounts += [{destination:\"/tmp\",type:\"tmpfs\",source:\"tmpfs\",options:[\"nosuid\",\"nodev\"]}]"
  out=$(cd "$T/b" && as $SUB_USER "$KR" run "$ID" 2>&1) || fail "run: $out"
  assert_contains "$(echo "$out" | tr -s ' ')" " 1 $start 65536" "the subordinate range is mapped"
  assert_eq "$(echo "$out" | tail -2 | tr '\n' ' ')" "1000 65534 " "files of other ids"
  assert_rootless_gone "$ID" $SUB_USER
}

# A range the user was not given is refused by newuidmap: one line naming the helper and the
# file to look at; nothing left.
test_range_not_granted_refused() {
  local uid; uid=$(id -u $NOSUB_USER)
  rootless_bundle $NOSUB_USER "$T/b" true
  edit_user_config $NOSUB_USER "$T/b" ".linux.uidMappings = [{containerID:0,hostID:$uid,size:1},{containerID:1,hostID:300000,size:1000}]"
  out=$(cd "$T/b" && as $NOSUB_USER "$KR" run "$ID" 2>&1) && fail "run with a range not granted succeeded"
  assert_contains "$out" "newuidmap refused the mapping"
  assert_contains "$out" "/etc/subuid"
  assert_eq "$(echo "$out" | wc -l)" 1 "one line"
  assert_rootless_gone "$ID" $NOSUB_USER
}

# newuidmap missing (hidden in a private mount namespace): the error says what to install.
test_missing_newuidmap() {
  local uid; uid=$(id -u $SUB_USER)
  rootless_bundle $SUB_USER "$T/b" true
  edit_user_config $SUB_USER "$T/b" ".linux.uidMappings = [{containerID:0,hostID:$uid,size:1},{containerID:1,hostID:$(subuid_start $SUB_USER),size:10}]"
  out=$(cd "$T/b" && unshare -m sh -c "mount --bind /dev/null $(command -v newuidmap) &&
    runuser -u $SUB_USER -- env XDG_RUNTIME_DIR=$T/xdg-$SUB_USER $KR run $ID" 2>&1) && fail "run without newuidmap succeeded"
  assert_contains "$out" "install Debian's uidmap"
  assert_rootless_gone "$ID" $SUB_USER
}

# create/start/state/exec/ps/kill/delete; pause and limits are refused with the reason and the
# way to get a cgroup, and a refused create leaves nothing.
test_lifecycle_without_cgroup() {
  local u=$NOSUB_USER
  rootless_bundle $u "$T/b" sleep 100
  as $u "$KR" create --bundle "$T/b" "$ID" || fail create
  as $u "$KR" start "$ID" || fail start
  assert_eq "$(as $u "$KR" state "$ID" | jq -r .status)" running
  assert_eq "$(as $u "$KR" exec "$ID" sh -c 'echo exec-ok; id -u')" "$(printf 'exec-ok\n0')" "exec"
  pid=$(as $u "$KR" state "$ID" | jq -r .pid)
  assert_contains "$(as $u "$KR" ps "$ID")" "$pid" "ps lists the init"
  out=$(as $u "$KR" pause "$ID" 2>&1) && fail "pause without a cgroup succeeded"
  assert_contains "$out" "pause needs a cgroup of the container's own"
  assert_contains "$out" "Delegate=yes"
  as $u "$KR" kill "$ID" KILL || fail kill
  for _ in $(seq 50); do [ "$(as $u "$KR" state "$ID" | jq -r .status)" == stopped ] && break; sleep 0.05; done
  assert_eq "$(as $u "$KR" state "$ID" | jq -r .status)" stopped
  as $u "$KR" delete "$ID" || fail delete
  assert_rootless_gone "$ID" $u

  edit_user_config "$u" "$T/b" '.linux.resources = {memory: {limit: 67108864}}'
  out=$(as $u "$KR" run --bundle "$T/b" "$ID" 2>&1) && fail "a memory limit without a cgroup was accepted"
  assert_contains "$out" "needs a cgroup of the container's own"
  assert_rootless_gone "$ID" $u
}

# A cgroup v2 subtree delegated to the user (what systemd's Delegate=yes does: the user owns the
# directory, cgroup.procs, cgroup.subtree_control, cgroup.threads), here in this hybrid host's
# cgroup2 tree, whose one controller is hugetlb: kiln-runtime and kiln put each container in
# <subtree>/kiln/<id> and its hugetlb limit works; a memory limit names what the subtree lacks.
test_delegated_cgroup_v2_subtree() {
  local u=$SUB_USER v2=/sys/fs/cgroup/unified
  [ -f $v2/cgroup.controllers ] || v2=/sys/fs/cgroup
  local D=$v2/kiln-deleg-$ID
  mkdir "$D" "$D/shell" || fail "make the subtree"
  # On failure too: the subtree's processes, then its cgroups (the harness removes no cgroup).
  trap 'pkill -9 -u "$u"; sleep 0.3; find "$D" -depth -type d -exec rmdir {} + 2>/dev/null' EXIT
  echo +hugetlb > "$D/cgroup.subtree_control" || fail "enable hugetlb in the subtree"
  chown "$u": "$D" "$D/cgroup.procs" "$D/cgroup.subtree_control" "$D/cgroup.threads" "$D/shell" "$D/shell/cgroup.procs"
  # as_in_subtree CMD...: as the user, from a process root moved into $D/shell.
  as_in_subtree() { (echo "$BASHPID" > "$D/shell/cgroup.procs" && as "$u" "$@"); }
  rootless_bundle $u "$T/b" sleep 100
  edit_user_config "$u" "$T/b" '.linux.resources = {hugepageLimits: [{pageSize: "2MB", limit: 4194304}]}'
  as_in_subtree "$KR" run -d --bundle "$T/b" "$ID" </dev/null >"$T/run.out" 2>&1 || fail "run -d in the delegated subtree: $(cat "$T/run.out")"
  pid=$(as $u "$KR" state "$ID" | jq -r .pid)
  assert_eq "$(cat "$D/kiln/$ID/cgroup.procs" 2>/dev/null)" "$pid" "the init in <subtree>/kiln/<id>"
  assert_eq "$(cat "$D/kiln/$ID/hugetlb.2MB.max")" 4194304 "the hugetlb limit"
  as $u "$KR" pause "$ID" || fail "pause with a delegated cgroup"
  assert_eq "$(as $u "$KR" state "$ID" | jq -r .status)" paused
  as $u "$KR" resume "$ID" || fail resume
  as $u "$KR" delete -f "$ID" || fail "delete -f"
  [ ! -d "$D/kiln/$ID" ] || fail "the container's cgroup is left"
  edit_user_config "$u" "$T/b" '.linux.resources = {memory: {limit: 67108864}}'
  out=$(as_in_subtree "$KR" run --bundle "$T/b" "$ID" 2>&1) && fail "a memory limit the subtree cannot give was accepted"
  assert_contains "$out" "memory"
  [ ! -d "$D/kiln/$ID" ] || fail "the failed run's cgroup is left"
  # kiln: info names the subtree, and a container of kiln run lands in it.
  chmod 711 "$T"; owners_image $u
  kiln_as $u import "$T/owners.tar.gz" bb:1 >/dev/null 2>&1 || fail "import"
  pkill -9 -u "$u"  # a fresh session, made from inside the subtree
  for _ in $(seq 50); do pgrep -u "$u" >/dev/null || break; sleep 0.05; done
  rm -f "$T/xdg-$u/kiln/session.pid"
  mkdir -p "$T/data-$u"
  info=$(as_in_subtree env XDG_DATA_HOME="$T/data-$u" "$KILN" info) || fail "info"
  assert_contains "$info" "$D is delegated to this user"
  as_in_subtree env XDG_DATA_HOME="$T/data-$u" "$KILN" run -d --network none bb:1 sleep 100 </dev/null >"$T/run.out" 2>&1 ||
    fail "kiln run -d: $(cat "$T/run.out")"
  c=$(cat "$T/run.out")
  [ -d "$D/kiln/$c" ] || fail "kiln's container is not in the subtree: $(ls "$D/kiln" 2>&1)"
  kiln_as $u rm -f "$c" >/dev/null || fail "rm -f"
  [ ! -d "$D/kiln/$c" ] || fail "kiln's container cgroup is left"
  kiln_user_clean $u
  rmdir "$D/kiln" "$D/shell" 2>/dev/null; rmdir "$D" || fail "remove the subtree: $(ls "$D")"
}

# The container's root is the user on the host: a bind of the host's / is not writable, the
# host's secrets are not readable, and setns back into the host's mount namespace (through a
# leaked fd of it, the way a careless caller could hand one in) is refused.
test_escape_attempts_land_as_the_user() {
  local u=$SUB_USER
  rootless_bundle $u "$T/b" sh -c "touch /host/etc/kiln-escape-$ID && echo WROTE; cat /host/etc/shadow >/dev/null 2>&1 && echo READ; readlink /proc/self/fd/3; nsenter --mount=/proc/self/fd/3 true 2>/dev/null && echo ENTERED; echo done"
  mkdir "$T/b/rootfs/host"  # the mount point (the rootfs is root's)
  edit_user_config "$u" "$T/b" '.mounts += [{destination:"/host",type:"bind",source:"/",options:["rbind"]}]'
  out=$(cd "$T/b" && as $u sh -c "exec 3</proc/self/ns/mnt; $KR run --preserve-fds 1 $ID" 2>&1)
  assert_contains "$out" done "the container ran: $out"
  assert_contains "$out" "mnt:[" "the host's mount namespace fd reached the container"
  assert_not_contains "$out" WROTE "wrote to the host's /etc"
  assert_not_contains "$out" READ "read the host's /etc/shadow"
  assert_not_contains "$out" ENTERED "entered the host's mount namespace"
  [ ! -e /etc/kiln-escape-$ID ] || { rm -f /etc/kiln-escape-$ID; fail "file made in the host's /etc"; }
  assert_rootless_gone "$ID" $u
}

# Rootless podman (its own user namespace from /etc/subuid) with kiln-runtime as its runtime.
test_podman_rootless() {
  command -v podman >/dev/null || fail "podman missing"
  local u=$SUB_USER P=$T/podman
  chmod 711 "$T"; mkdir -p "$P/tmp"; chown -R $u: "$P"
  cat > "$P/containers.conf" <<EOF
[containers]
netns = "none"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$P/events.log"
runtime_supports_json = ["crun", "runc", "kiln-runtime"]
EOF
  printf '[storage]\ndriver = "overlay"\nrunroot = "%s/runroot"\ngraphroot = "%s/root"\n' "$P" "$P" > "$P/storage.conf"
  pod() {
    as $u env CONTAINERS_CONF="$P/containers.conf" CONTAINERS_STORAGE_CONF="$P/storage.conf" TMPDIR="$P/tmp" \
      timeout 60 podman --runtime "$KR" "$@"
  }
  busybox_rootfs "$T/bbr"
  tar -C "$T/bbr" -czf "$P/rootfs.tar.gz" . && chown -R $u: "$P"
  pod import -q "$P/rootfs.tar.gz" localhost/bb:$ID >/dev/null || fail "podman import"
  out=$(pod run --rm localhost/bb:$ID sh -c 'echo hi; cat /proc/self/uid_map' 2>&1) || fail "podman run --rm: $out"
  assert_eq "$(echo "$out" | head -1)" hi
  assert_contains "$(echo "$out" | tr -s ' ')" " 1 $(subuid_start $u) " "podman's user namespace"
  c=$(pod run -d localhost/bb:$ID sleep 100) || fail "podman run -d: $c"
  assert_eq "$(pod exec "$c" echo exec-ok)" exec-ok "podman exec"
  pod stop -t 1 "$c" >/dev/null 2>&1 || fail "podman stop"
  pod rm "$c" >/dev/null || fail "podman rm"
  assert_eq "$(pod ps -aq | wc -l)" 0 "no containers left"
  assert_eq "$(ls "$T/xdg-$u/kiln-runtime" | grep -v seccomp-cache)" "" "kiln-runtime state left"
  pod rmi -f localhost/bb:$ID >/dev/null 2>&1
  pod system reset -f >/dev/null 2>&1
  pkill -9 -u $u 2>/dev/null; true
}

# --- kiln as an ordinary user ---
# kiln as USER, with the user's own store and run root (XDG dirs under $T).
kiln_as() { # kiln_as USER ARGS...
  local u=$1; shift
  [ -d "$T/data-$u" ] || { mkdir -p "$T/data-$u"; chown "$u": "$T/data-$u"; }
  as "$u" env XDG_DATA_HOME="$T/data-$u" "$KILN" "$@"
}
# An image whose files belong to root, uid 1000 and uid 65534.
owners_image() { # owners_image USER
  busybox_rootfs "$T/img"
  echo a > "$T/img/home/a"; echo b > "$T/img/home/b"
  chown 1000:1000 "$T/img/home/a"; chown 65534:65534 "$T/img/home/b"
  tar -C "$T/img" -czf "$T/owners.tar.gz" . && chown "$1": "$T/owners.tar.gz"
}
# Nothing of the user's kiln left but its store: no container, no mount in its session, no
# process once the session is stopped.
kiln_user_clean() { # kiln_user_clean USER
  local u=$1
  assert_eq "$(kiln_as "$u" ps -aq)" "" "containers left"
  out=$(kiln_as "$u" system check 2>&1) || fail "system check: $out"
  local holder; holder=$(cut -d' ' -f1 "$T/xdg-$u/kiln/session.pid")
  [ -z "$(nsenter -t "$holder" -m grep -F "$T/data-$u" /proc/self/mountinfo)" ] || fail "mounts left in the session"
  [ -z "$(ls "$T/xdg-$u/kiln/netns" 2>/dev/null)" ] || fail "netns left"
  ! pgrep -u "$u" pasta >/dev/null || fail "pasta left"
  pkill -9 -u "$u"
  for _ in $(seq 50); do pgrep -u "$u" >/dev/null || break; sleep 0.05; done
  ! pgrep -u "$u" >/dev/null || fail "processes of $u left: $(pgrep -a -u "$u")"
}

# With a subordinate range: ownership kept (1000 and 65534 inside), run/-d/exec/logs/stop/rm,
# secrets as file and env, a published port through pasta, limits refused, `kiln info`.
test_kiln_rootless_with_range() {
  local u=$SUB_USER
  chmod 711 "$T"; owners_image $u
  out=$(kiln_as $u import "$T/owners.tar.gz" bb:1 2>&1) || fail "import: $out"
  assert_not_contains "$out" warning "a user with a range gets no warning"
  info=$(kiln_as $u info) || fail "info"
  assert_contains "$info" "mode: rootless"
  assert_contains "$info" "1 -> $(subuid_start $u) (65536)"
  assert_contains "$info" "--memory, --pids-limit, --cpus are refused"
  out=$(kiln_as $u run --rm --network none bb:1 sh -c 'id -u; stat -c %u /home/a /home/b; cat /proc/self/uid_map') ||
    fail "run: $out"
  assert_eq "$(echo "$out" | head -3 | tr '\n' ' ')" "0 1000 65534 " "ids inside"
  assert_contains "$(echo "$out" | tr -s ' ')" " 1 $(subuid_start $u) 65536"
  # on the host the files belong to the range
  layer_owner=$(find "$T/data-$u" -path '*/diff/home/a' -printf '%U\n' | head -1)
  assert_eq "$layer_owner" "$(( $(subuid_start $u) + 999 ))" "uid 1000 of the image on the host"
  # unpack as the user: the stored layers copied, owners kept (in the range on the host)
  kiln_as $u unpack bb:1 "$T/data-$u/bundle" >/dev/null || fail "unpack as the user"
  assert_eq "$(stat -c %u "$T/data-$u/bundle/rootfs/home/a")" "$(( $(subuid_start $u) + 999 ))" "unpacked owner"
  assert_eq "$(cat "$T/data-$u/bundle/rootfs/home/b")" b "unpacked content"
  c=$(kiln_as $u run -d --name rl --network none bb:1 sh -c 'echo started; sleep 100') || fail "run -d: $c"
  assert_eq "$(kiln_as $u exec rl sh -c 'echo exec-ok')" exec-ok "exec"
  for _ in $(seq 50); do [ "$(kiln_as $u logs rl)" == started ] && break; sleep 0.05; done
  assert_eq "$(kiln_as $u logs rl)" started "logs"
  kiln_as $u stop -t 1 rl >/dev/null || fail stop
  kiln_as $u rm rl >/dev/null || fail rm
  printf 's3cr3t-%s' "$ID" | kiln_as $u secret create pw - >/dev/null || fail "secret create"
  assert_eq "$(kiln_as $u run --rm --network none --secret pw bb:1 cat /run/secrets/pw)" "s3cr3t-$ID" "secret file"
  assert_eq "$(kiln_as $u run --rm --network none --secret pw,type=env,target=PW bb:1 sh -c 'echo $PW')" "s3cr3t-$ID" \
    "secret env"
  ! grep -rqF "s3cr3t-$ID" "$T/xdg-$u/kiln" 2>/dev/null || fail "the secret is in the run root"
  # scan, as the user: a key planted in an image (shifted into the range in the user's store)
  mkdir -p "$T/img/root/.ssh"
  printf -- '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n' > "$T/img/root/.ssh/id_rsa"
  tar -C "$T/img" -czf "$T/keyed.tar.gz" . && chown "$u": "$T/keyed.tar.gz"
  kiln_as $u import "$T/keyed.tar.gz" keyed:1 >/dev/null 2>&1 || fail "import keyed"
  out=$(kiln_as $u scan keyed:1); assert_eq $? 1 "scan finds the key as the user"
  assert_contains "$out" "/root/.ssh/id_rsa: ssh-private-key"
  assert_not_contains "$out" "BEGIN OPENSSH"
  assert_eq "$(kiln_as $u scan bb:1 >/dev/null; echo $?)" 0 "scan of the clean image"
  # the default network is pasta: a published port answers on the host's 127.0.0.1
  local port=$((20000 + RANDOM % 10000))
  c=$(kiln_as $u run -d -p "127.0.0.1:$port:80" bb:1 httpd -f -p 80 -h /etc) || fail "run -p: $c"
  got=""
  for _ in $(seq 20); do got=$(timeout 5 /bin/busybox wget -q -O - "http://127.0.0.1:$port/hostname" 2>/dev/null) && break; sleep 0.1; done
  assert_eq "$got" "${c:0:12}" "the published port"
  assert_contains "$(kiln_as $u port "$c")" "80/tcp -> 127.0.0.1:$port"
  kiln_as $u rm -f "$c" >/dev/null || fail "rm -f"
  out=$(kiln_as $u run --rm --network none --memory 64m bb:1 true 2>&1); assert_eq $? 125 "--memory without a cgroup"
  assert_contains "$out" "needs a cgroup of the container's own"
  kiln_user_clean $u
}

# Without a range: one warning when the session is made, files of other owners folded onto the
# user's id (root inside), and everything else works the same.
test_kiln_rootless_single_id() {
  local u=$NOSUB_USER
  chmod 711 "$T"; owners_image $u
  out=$(kiln_as $u import "$T/owners.tar.gz" bb:1 2>&1) || fail "import: $out"
  assert_contains "$out" "warning: no /etc/subuid and /etc/subgid range for $u"
  assert_contains "$out" "folded"
  out=$(kiln_as $u images 2>&1)
  assert_not_contains "$out" warning "the warning is said once"
  out=$(kiln_as $u run --rm --network none bb:1 sh -c 'id -u; stat -c %u /home/a /home/b; wc -l < /proc/self/uid_map') ||
    fail "run: $out"
  assert_eq "$(echo "$out" | tr '\n' ' ')" "0 0 0 1 " "folded ownership, one id mapped"
  kiln_as $u unpack bb:1 "$T/data-$u/bundle" >/dev/null || fail "unpack as the user"
  assert_eq "$(stat -c %u "$T/data-$u/bundle/rootfs/home/b")" "$(id -u $u)" "unpacked owner: the user"
  c=$(kiln_as $u run -d --network none bb:1 sleep 100) || fail "run -d"
  assert_eq "$(kiln_as $u exec "$c" echo ok)" ok "exec"
  kiln_as $u rm -f "$c" >/dev/null || fail "rm -f"
  kiln_user_clean $u
}

# A network of the user's own: containers reach each other by name through a bridge in the
# session's network namespace (netavark and aardvark-dns run there; pasta is its way out); -p
# there is refused; the namespace, pasta and aardvark-dns go with the last container.
test_kiln_rootless_bridge_network_by_name() {
  local u=$SUB_USER
  chmod 711 "$T"; owners_image $u
  kiln_as $u import "$T/owners.tar.gz" bb:1 >/dev/null 2>&1 || fail "import"
  kiln_as $u network create "rn$ID" >/dev/null || fail "network create"
  kiln_as $u run -d --name srv --network "rn$ID" bb:1 httpd -f -p 80 -h /etc </dev/null >"$T/srv.id" 2>&1 ||
    fail "server: $(cat "$T/srv.id")"
  got=""
  for _ in $(seq 20); do
    got=$(kiln_as $u run --rm --network "rn$ID" bb:1 timeout 5 wget -q -O - http://srv/hostname 2>&1) && break
    sleep 0.2
  done
  assert_eq "$got" "$(head -c 12 "$T/srv.id")" "the server by name"
  assert_contains "$(kiln_as $u network inspect "rn$ID")" "srv"
  out=$(kiln_as $u run --rm --network "rn$ID" -p 8080:80 bb:1 true 2>&1); assert_eq $? 125 "-p on a rootless bridge"
  assert_contains "$out" "-p on a bridge network needs root"
  kiln_as $u rm -f srv >/dev/null || fail "rm -f"
  for _ in $(seq 50); do pgrep -r R,S,D -u "$u" 'aardvark-dns|pasta' >/dev/null || break; sleep 0.1; done
  ! pgrep -r R,S,D -u "$u" 'aardvark-dns|pasta' >/dev/null || fail "left: $(pgrep -a -u "$u" 'aardvark-dns|pasta')"
  [ -z "$(ls "$T/xdg-$u/kiln/netns" 2>/dev/null)" ] || fail "the bridge namespace is left: $(ls "$T/xdg-$u/kiln/netns")"
  out=$(kiln_as $u network rm "rn$ID" 2>&1) || fail "network rm: $out"
  kiln_user_clean $u
}

# Another user's /etc/subuid range overlapping this user's: the session is refused (containers of
# both would share host ids), one line naming both ranges and the fix; nothing is made.
test_kiln_rootless_overlapping_range_refused() {
  local u=$SUB_USER start; start=$(subuid_start $u)
  echo "kiln-rl-other:$((start + 1000)):100" >> /etc/subuid
  chmod 711 "$T"
  out=$(kiln_as $u images 2>&1); rc=$?
  sed -i '/^kiln-rl-other:/d' /etc/subuid
  assert_eq $rc 125 "exit status"
  assert_eq "$out" "kiln: /etc/subuid: the range $start-$((start + 65535)) of $u overlaps kiln-rl-other's $((start + 1000))-$((start + 1099)): containers of both users would share host ids; give each user a range of its own (usermod --del-subuids/--add-subuids, --del-subgids/--add-subgids)"
  [ ! -e "$T/xdg-$u/kiln/session.pid" ] || fail "a session was made"
  ! pgrep -u "$u" >/dev/null || fail "processes of $u left: $(pgrep -a -u "$u")"
  out=$(kiln_as $u images 2>&1) || fail "with the overlap gone: $out"
  kiln_user_clean $u
}

# A store on a filesystem the kernel will not use for an overlay upper dir (here another
# overlay, as when kiln runs inside a container): without /dev/fuse one line naming both
# reasons and nothing made; with it, fuse-overlayfs serves the rootfs and its daemon ends at rm.
test_kiln_rootless_store_refusing_overlay() {
  local u=$SUB_USER
  chmod 711 "$T"; owners_image $u
  mkdir -p "$T/ov/l" "$T/ov/u" "$T/ov/w" "$T/ov/m"
  mount -t overlay "kiln-ov-$ID" -o "lowerdir=$T/ov/l,upperdir=$T/ov/u,workdir=$T/ov/w" "$T/ov/m" || fail "outer overlay"
  mkdir "$T/ov/m/data" && chown "$u": "$T/ov/m/data"
  kl() { as "$u" env XDG_DATA_HOME="$T/ov/m/data" "$KILN" "$@"; }
  out=$(kl import "$T/owners.tar.gz" bb:1 2>&1) || fail "import onto the overlay: $out"
  restore_fuse; chmod 0600 /dev/fuse
  out=$(kl run --rm --network none bb:1 true 2>&1); rc=$?
  assert_eq $rc 125 "run without /dev/fuse"
  assert_contains "$out" "the kernel refused overlayfs (Invalid argument) and fuse-overlayfs failed:"
  assert_eq "$(echo "$out" | wc -l)" 1 "one line: $out"
  assert_eq "$(kl ps -aq)" "" "nothing made"
  open_fuse
  assert_contains "$(kl info)" "overlay: fuse-overlayfs (the kernel refuses overlayfs for this store"
  out=$(kl run --rm --network none bb:1 sh -c 'id -u; stat -c %u /home/a /home/b; echo w > /w; cat /w' 2>&1) ||
    fail "run on fuse-overlayfs: $out"
  assert_contains "$out" "using fuse-overlayfs"
  assert_eq "$(echo "$out" | grep -v warning | tr '\n' ' ')" "0 1000 65534 w " "ids and a write inside"
  c=$(kl run -d --network none bb:1 sleep 100 2>/dev/null) || fail "run -d"
  pgrep -u "$u" -f "fuse-overlayfs.*$c" >/dev/null || fail "no fuse-overlayfs daemon for $c"
  assert_eq "$(kl exec "$c" echo ok)" ok "exec"
  kl rm -f "$c" >/dev/null || fail "rm -f"
  for _ in $(seq 50); do pgrep -u "$u" fuse-overlayfs >/dev/null || break; sleep 0.05; done
  ! pgrep -u "$u" fuse-overlayfs >/dev/null || fail "fuse-overlayfs left: $(pgrep -a -u "$u" fuse-overlayfs)"
  restore_fuse
  local holder; holder=$(cut -d' ' -f1 "$T/xdg-$u/kiln/session.pid")
  [ -z "$(nsenter -t "$holder" -m grep -F "$T/ov/m/data/kiln/containers" /proc/self/mountinfo)" ] || fail "mounts left in the session"
  pkill -9 -u "$u"
  for _ in $(seq 50); do pgrep -u "$u" >/dev/null || break; sleep 0.05; done
  umount "$T/ov/m" || fail "unmount the outer overlay"
}

run_tests
