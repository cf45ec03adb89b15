#!/usr/bin/env bash
# shellcheck disable=SC2016  # the single-quoted scripts are expanded by the container's shell
# kiln quick start. On a fresh Debian 12 machine, as root, from any directory:
#   examples/quickstart.sh
# Installs what is missing, builds kiln, makes a busybox root filesystem and runs a few
# containers in it, showing what they see; then loads a busybox image, runs identical
# containers from it, hands a secret to a container, serves web pages from containers, and
# pulls an image from a registry of its own on 127.0.0.1. Everything it makes is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "quickstart: containers need root: sudo $0" >&2; exit 1; }

step() { printf '\n== %s\n' "$*"; }

step "1. Install the Debian packages kiln needs (tests/install-deps.sh; does nothing if present)"
tests/install-deps.sh
step "2. Build kiln-runtime (the OCI runtime) and kiln into build/"
# The same configuration as tests/run.sh, so that running it next reuses this build.
cmake -S . -B build -G Ninja -DKILN_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -DNDEBUG" >/dev/null
ninja -C build kiln-runtime kiln | tail -1
KR=$PWD/build/cli/kiln-runtime

T=$(mktemp -d /tmp/kiln-quickstart.XXXXXX)
kr() { "$KR" --root "$T/state" "$@"; }   # every container's state lives under $T/state
cleanup() {
  for id in $(kr list -q 2>/dev/null); do kr delete --force "$id" || true; done
  if [ -s "$T/registry.pid" ]; then kill "$(cat "$T/registry.pid")" 2>/dev/null || true; fi
  rm -rf "$T"
}
trap cleanup EXIT

step "3. A root filesystem: Debian's static busybox and its applets, in $T/rootfs"
mkdir -p "$T/rootfs"/{bin,proc,sys,dev,tmp,etc,root}
cp /bin/busybox "$T/rootfs/bin/busybox"
for app in $(/bin/busybox --list); do [ -e "$T/rootfs/bin/$app" ] || ln -s busybox "$T/rootfs/bin/$app"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$T/rootfs/etc/passwd"

step "4. A bundle: 'kiln-runtime spec' writes a default config.json; jq edits it"
mkdir "$T/default" && (cd "$T/default" && "$KR" spec)
jq -c '{hostname, namespaces: [.linux.namespaces[].type], readonly_root: .root.readonly}' "$T/default/config.json"
bundle() { # bundle NAME HOSTNAME SCRIPT: $T/NAME/config.json, running `sh -c SCRIPT` as NAME
  mkdir -p "$T/$1"
  jq --arg h "$2" --arg s "$3" --arg r "$T/rootfs" \
    '.hostname = $h | .root.path = $r | .process.args = ["sh", "-c", $s]' \
    "$T/default/config.json" > "$T/$1/config.json"
}
run() { # run NAME HOSTNAME SCRIPT: a container in the foreground, with our stdio
  bundle "$@"
  echo "\$ kiln-runtime run --bundle $T/$1 $1        # sh -c '$3'"
  kr run --bundle "$T/$1" "$1"
}

step "5. Its own hostname (the host is '$(hostname)')"
run alpha alpha 'echo "hostname: $(hostname)"'
run beta beta 'echo "hostname: $(hostname)"'

step "6. Its own PID namespace: the shell is PID 1 and sees only its own processes"
run pids gamma 'echo "my PID: $$"; sleep 9 & sleep 0.2; ps; kill $!'

step "7. Its own mounts: the busybox rootfs as /, a fresh /proc, /dev, /sys (none of it on the host)"
run mounts delta 'mount | head -n 8; echo ...; ls /'
echo "mounts of $T on the host: $(grep -c "$T" /proc/self/mountinfo || true)"

step "8. Two containers at once, detached: create, start, list, state, kill, delete"
for name in web1 web2; do
  bundle "$name" "$name" 'trap "echo $(hostname) got SIGTERM; exit 0" TERM; echo "$(hostname) up"; while :; do sleep 1; done'
  echo "\$ kiln-runtime create --bundle $T/$name $name"
  kr create --bundle "$T/$name" "$name" > "$T/$name.log" 2>&1   # its output goes to a log file
done
kr list
kr start web1 && kr start web2 && sleep 1
echo "\$ kiln-runtime list"; kr list
echo "\$ kiln-runtime state web1"; kr state web1 | jq -c '{id, status, pid}'
echo "\$ kiln-runtime ps web2"; kr ps web2
echo "\$ kiln-runtime kill web1 TERM; kiln-runtime kill web2 KILL"
kr kill web1 TERM && kr kill web2 KILL
for name in web1 web2; do   # wait until both are stopped
  for _ in $(seq 50); do [ "$(kr state "$name" | jq -r .status)" = stopped ] && break; sleep 0.1; done
done
kr list
echo "their output:"; cat "$T/web1.log" "$T/web2.log"
kr delete web1 && kr delete web2
echo "\$ kiln-runtime list    # after delete"; kr list

step "9. Exit status: kiln-runtime run exits with the container's status"
status=0; run fails epsilon 'echo "exiting with 3"; exit 3' || status=$?
echo "kiln-runtime run exited with $status"

# --- kiln load / kiln run ---------------------------------------------------------------------
# A busybox image into a store under $T, then several identical containers from it at once:
# each is one overlay mount over the same read-only layers plus a few KiB of its own.
export KILN_ROOT=$T/store KILN_RUN_ROOT=$T/run
KILN=$PWD/build/cli/kiln
trap '"$KILN" rm -f $("$KILN" ps -aq --no-trunc) >/dev/null 2>&1 || true; "$KILN" network rm demo >/dev/null 2>&1 || true; cleanup' EXIT
step "10. A busybox image into kiln's store (kiln import of a rootfs tar; kiln load takes docker/OCI archives)"
mkdir -p "$T/img/bin"; cp /bin/busybox "$T/img/bin/"; for a in sh echo hostname sleep cat wc httpd wget seq timeout ip; do ln -sf busybox "$T/img/bin/$a"; done
tar -C "$T/img" -czf "$T/busybox.tar.gz" . && "$KILN" import "$T/busybox.tar.gz" busybox:latest >/dev/null
echo "\$ kiln images"; "$KILN" images
step "11. kiln run: five identical containers at once, detached"
for i in 1 2 3 4 5; do "$KILN" run -d --name "box$i" busybox sh -c 'echo "hello from $(hostname)"; sleep 2' >/dev/null & done; wait
echo "\$ kiln ps"; "$KILN" ps
echo "\$ kiln logs box3"; sleep 0.3; "$KILN" logs box3
echo "\$ kiln run --rm --read-only busybox sh -c 'echo hi > /x'   # the image cannot be changed"
"$KILN" run --rm --read-only busybox sh -c 'echo hi > /x' || echo "(exit status $?)"
echo "\$ kiln stop -t 1 box1 box2 box3 box4 box5 && kiln rm ..."
"$KILN" stop -t 1 box1 box2 box3 box4 box5 >/dev/null; "$KILN" ps -a; "$KILN" rm box1 box2 box3 box4 box5 >/dev/null
# --- end kiln load / kiln run ------------------------------------------------------------------

# --- secrets -----------------------------------------------------------------------------------
# A secret is stored once (0600, under kiln's root; from stdin or a file, never from argv) and
# handed to a container at launch: as a file on a small tmpfs at /run/secrets/NAME, or as an
# environment variable. It never lands in the image, the container's config, state or logs.
step "12. A secret reaches a container (and nothing else)"
head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$T/pw"
"$KILN" secret create db_password - < "$T/pw" >/dev/null
echo "\$ kiln secret ls"; "$KILN" secret ls
echo "\$ kiln run --rm --read-only --secret db_password busybox sh -c 'cat /run/secrets/db_password | wc -c'"
"$KILN" run --rm --read-only --secret db_password busybox sh -c 'cat /run/secrets/db_password | wc -c'
echo "\$ kiln run --rm --secret db_password,type=env,target=DB_PASSWORD busybox sh -c 'echo \${#DB_PASSWORD} characters'"
"$KILN" run --rm --secret db_password,type=env,target=DB_PASSWORD busybox sh -c 'echo ${#DB_PASSWORD} characters'
printf 'the value is on disk only in the secret store: '
grep -rlF "$(cat "$T/pw")" "$T/store" "$T/run" 2>/dev/null | sed "s|$T/||" | tr '\n' ' '; echo
rm -f "$T/pw"; "$KILN" secret rm db_password >/dev/null
# --- end secrets -------------------------------------------------------------------------------

# --- networks ----------------------------------------------------------------------------------
# By default a container is on kiln's default bridge network (kiln0, 10.77.0.0/24): its own
# address, NAT out, and -p publishes a port on the host. On a network of your own, containers
# find each other by name. (--network none is the sandbox choice: loopback only.)
step "13. A web server in a container, published on a host port, fetched from the host"
port=$(for _ in $(seq 50); do p=$((20000 + RANDOM % 10000)); ss -Htln "sport = :$p" | grep -q . || { echo "$p"; break; }; done)
mkdir -p "$T/www"; echo "hello from a kiln container" > "$T/www/index.html"
echo "\$ kiln run -d --name web -p 127.0.0.1:$port:80 -v $T/www:/www:ro busybox httpd -f -p 80 -h /www"
"$KILN" run -d --name web -p "127.0.0.1:$port:80" -v "$T/www:/www:ro" busybox httpd -f -p 80 -h /www >/dev/null
echo "\$ kiln port web"; "$KILN" port web
echo "\$ wget -O - http://127.0.0.1:$port/     # from the host (at most 20 tries of 5 s)"
for _ in $(seq 20); do timeout 5 busybox wget -q -O - "http://127.0.0.1:$port/" 2>/dev/null && break; sleep 0.1; done
step "14. Two containers on a network of their own reach each other by name"
"$KILN" network create demo >/dev/null
"$KILN" run -d --name api --network demo -v "$T/www:/www:ro" busybox httpd -f -p 80 -h /www >/dev/null
echo "\$ kiln run --rm --network demo busybox wget -O - http://api/"
"$KILN" run --rm --network demo busybox sh -c 'for i in $(seq 20); do timeout 5 wget -q -O - http://api/ 2>/dev/null && exit 0; sleep 0.1; done; exit 1'
echo "\$ kiln network ls"; "$KILN" network ls
"$KILN" rm -f web api >/dev/null; "$KILN" network rm demo >/dev/null
# --- end networks ------------------------------------------------------------------------------

# --- registries --------------------------------------------------------------------------------
# kiln speaks the OCI distribution protocol itself: here against a registry of our own on
# 127.0.0.1 (Debian's docker-registry), filled with skopeo from an OCI layout kiln-runtime never saw.
step "15. Share an image through a registry: push with skopeo, kiln pull, run it by name"
rport=$(for _ in $(seq 50); do p=$((30000 + RANDOM % 10000)); ss -Htln "sport = :$p" | grep -q . || { echo "$p"; break; }; done)
printf 'version: 0.1\nlog: {level: error}\nstorage: {filesystem: {rootdirectory: %s/registry}}\nhttp: {addr: 127.0.0.1:%s}\n' "$T" "$rport" > "$T/registry.yml"
docker-registry serve "$T/registry.yml" > "$T/registry.log" 2>&1 &
echo $! > "$T/registry.pid"
for _ in $(seq 50); do curl -fsS -m 1 "http://127.0.0.1:$rport/v2/" >/dev/null 2>&1 && break; sleep 0.1; done
mkdir -p "$T/layout" && tar -C "$T/rootfs" -cf "$T/layout.tar" . && umoci init --layout "$T/layout/img" >/dev/null 2>&1 &&
  umoci new --image "$T/layout/img:1" >/dev/null && umoci raw add-layer --image "$T/layout/img:1" "$T/layout.tar" >/dev/null &&
  umoci config --image "$T/layout/img:1" --config.cmd sh >/dev/null
echo "\$ skopeo copy oci:layout:1 docker://127.0.0.1:$rport/demo/busybox:1"
skopeo copy -q --dest-tls-verify=false "oci:$T/layout/img:1" "docker://127.0.0.1:$rport/demo/busybox:1"
echo "\$ kiln pull --tls-verify=false 127.0.0.1:$rport/demo/busybox:1"
"$KILN" pull --tls-verify=false "127.0.0.1:$rport/demo/busybox:1"
echo "\$ kiln run --rm --network none 127.0.0.1:$rport/demo/busybox:1 echo pulled and ran"
"$KILN" run --rm --network none "127.0.0.1:$rport/demo/busybox:1" echo pulled and ran
kill "$(cat "$T/registry.pid")" 2>/dev/null; wait "$(cat "$T/registry.pid")" 2>/dev/null || true; rm -f "$T/registry.pid"
# --- end registries ----------------------------------------------------------------------------

# --- build -------------------------------------------------------------------------------------
# kiln build makes an image from a Dockerfile, step by step, each step cached: an unchanged
# rebuild is all CACHED and gives the same image id. A build secret reaches one RUN (a tmpfs
# file) and is never in a layer, the config, the history or the log. kiln warns about the
# pitfalls it sees (secrets baked in, cache-defeating order, bloat); kiln lint checks a
# Dockerfile without building.
step "16. Build an image with a secret mount, rebuild it (all CACHED), run it"
mkdir -p "$T/app"; echo "hello from a built image" > "$T/app/hello.txt"
cat > "$T/app/Dockerfile" <<'DF'
FROM busybox
RUN --mount=type=secret,id=token echo "the build saw a token of $(cat /run/secrets/token | wc -c) bytes" > /built.txt
COPY hello.txt /hello.txt
CMD ["cat", "/built.txt", "/hello.txt"]
DF
head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$T/token"
echo "\$ kiln build -t app:1 --secret id=token,src=token $T/app"
"$KILN" build --network none -t app:1 --secret id=token,src="$T/token" "$T/app" >/dev/null
echo "\$ kiln build -t app:1 --secret id=token,src=token $T/app   # again: every step CACHED, the same id"
"$KILN" build --network none -t app:1 --secret id=token,src="$T/token" "$T/app" 2>&1 | grep -E 'CACHED|writing image'
echo "\$ kiln run --rm app:1"; "$KILN" run --rm app:1
echo "\$ kiln history app:1"; "$KILN" history app:1
printf 'the token is in the store: '; grep -rqF "$(cat "$T/token")" "$T/store" && echo yes || echo no
printf 'FROM busybox\nENV API_TOKEN=abc123\nCOPY . /app\n' > "$T/app/Dockerfile.bad"
echo "\$ kiln lint Dockerfile.bad   # exit 1: a credential in ENV (named, never shown)"
"$KILN" lint "$T/app/Dockerfile.bad" | cut -c1-110 || echo "(exit status ${PIPESTATUS[0]})"
"$KILN" rmi app:1 >/dev/null
echo "\$ kiln image prune   # the build cache's layers no image uses"; "$KILN" image prune
rm -f "$T/token"
# --- end build ---------------------------------------------------------------------------------

step "17. Hostile configs and images are refused (tests/integration/escapes_test.sh has them all)"
bundle evil evil 'echo should not run'
jq '.linux.sysctl = {"kernel.core_pattern": "|/tmp/evil"}' "$T/evil/config.json" > "$T/evil.json" && mv "$T/evil.json" "$T/evil/config.json"
echo "\$ kiln-runtime run  (config.json sets kernel.core_pattern, which is not namespaced)"
kr run --bundle "$T/evil" evil 2>&1 | sed 's/^/  /' || true
echo "\$ kiln run --user 4294967295 busybox id   (-1 would mean 'stay root' to setresuid)"
"$KILN" run --rm --user 4294967295 busybox id 2>&1 | sed 's/^/  /' || true
echo "\$ kiln import ... '../../../../tmp/x:latest'"
"$KILN" import "$T/busybox.tar.gz" '../../../../tmp/x:latest' 2>&1 | sed 's/^/  /' || true

# --- rootless ----------------------------------------------------------------------------------
step "18. Rootless: an ordinary user runs a container (a throwaway user, removed right after)"
RL_USER=kiln-quickstart
useradd -m -s /bin/sh "$RL_USER"   # useradd gives it an /etc/subuid and /etc/subgid range
rootless_cleanup() { pkill -9 -u "$RL_USER" 2>/dev/null || true
  rm -rf "/tmp/kiln-run-$(id -u "$RL_USER" 2>/dev/null)"; userdel -r "$RL_USER" 2>/dev/null || true
  sed -i "/^$RL_USER:/d" /etc/subuid /etc/subgid; }
trap 'rootless_cleanup; cleanup' EXIT
cp "$T/busybox.tar.gz" "/home/$RL_USER/busybox.tar.gz" && chown "$RL_USER": "/home/$RL_USER/busybox.tar.gz"
as_user() { runuser -u "$RL_USER" -- env -i PATH=/usr/bin:/bin HOME="/home/$RL_USER" "$@"; }
echo "\$ kiln import busybox.tar.gz busybox      # as $RL_USER: its own store in ~/.local/share/kiln"
as_user "$KILN" import "/home/$RL_USER/busybox.tar.gz" busybox >/dev/null
echo "\$ kiln info"; as_user "$KILN" info | sed 's/^/  /'
echo "\$ kiln run --rm --network none busybox sh -c 'id; cat /proc/self/uid_map'"
as_user "$KILN" run --rm --network none busybox sh -c 'id; cat /proc/self/uid_map'
rootless_cleanup; trap cleanup EXIT
# --- end rootless ------------------------------------------------------------------------------

step "Done. Next: tests/run.sh builds and runs every test; bench/start.sh compares start times."
