#!/usr/bin/env bash
# OCI runtime-tools validation suite, kiln-runtime side by side with runc. Run by hand as root;
# NOT part of CI.   usage: tests/conformance/run.sh [TEST-NAME...]
#
# Env:
#   RUNTIME_TOOLS_SRC  checkout of github.com/opencontainers/runtime-tools *with* validation/,
#                      cmd/runtimetest and vendor/ (default: $CACHE/runtime-tools; cloned there
#                      when missing and github is reachable). Debian's
#                      golang-github-opencontainers-runtime-tools-dev is NOT enough: it ships only
#                      the library packages (generate, validate, ...), no validation/ programs,
#                      no cmd/runtimetest and no vendored github.com/mndrix/tap-go.
#   KR                 kiln-runtime binary (default: build/cli/kiln-runtime)
#   RUNC               runc binary (default: runc in PATH)
#   TIMEOUT            seconds per test program (default 60)
#   CACHE              build cache (default /tmp/kiln-conformance)
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
CACHE=${CACHE:-/tmp/kiln-conformance}
SRC=${RUNTIME_TOOLS_SRC:-$CACHE/runtime-tools}
KR=${KR:-$repo/build/cli/kiln-runtime}
RUNC=${RUNC:-$(command -v runc || true)}
TIMEOUT=${TIMEOUT:-60}
OUT=$CACHE/bin

die() { echo "run.sh: $*" >&2; exit 2; }
[ "$(id -u)" = 0 ] || die "must run as root"
[ -x "$KR" ] || die "no kiln-runtime at $KR"
[ -x "$RUNC" ] || die "no runc (set RUNC)"

# --- 1. packages -------------------------------------------------------------------------------
need=()
command -v go >/dev/null || need+=(golang-go)
dpkg -s golang-github-opencontainers-runtime-tools-dev >/dev/null 2>&1 \
  || need+=(golang-github-opencontainers-runtime-tools-dev)
[ -x /bin/busybox ] || need+=(busybox-static)
command -v jq >/dev/null || need+=(jq)
if [ ${#need[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}" || die "apt-get install ${need[*]}"
fi

# --- 2. sources --------------------------------------------------------------------------------
if [ ! -d "$SRC/validation" ]; then
  mkdir -p "$CACHE"
  git clone -q https://github.com/opencontainers/runtime-tools "$SRC" 2>/dev/null \
    || die "no runtime-tools checkout with validation/ at $SRC (and cloning it failed).
  Debian's golang-github-opencontainers-runtime-tools-dev has no validation/ nor cmd/runtimetest;
  copy an upstream checkout (it vendors its deps, so the build is offline) and set RUNTIME_TOOLS_SRC."
fi
[ -d "$SRC/cmd/runtimetest" ] || die "$SRC has no cmd/runtimetest"

# --- 3. build (cached) -------------------------------------------------------------------------
mkdir -p "$OUT"
gobuild() { # gobuild OUTFILE PKGDIR
  if [ -f "$SRC/go.mod" ]; then
    export GO111MODULE=on GOFLAGS=-mod=vendor GOPROXY=off
  else # old tree without go.mod: GOPATH mode against Debian's gocode
    export GO111MODULE=off GOPATH=$CACHE/gopath:/usr/share/gocode
    mkdir -p "$CACHE/gopath/src/github.com/opencontainers"
    ln -sfn "$SRC" "$CACHE/gopath/src/github.com/opencontainers/runtime-tools"
  fi
  (cd "$SRC" && CGO_ENABLED=0 nice go build -o "$1" "./$2") >"$1.buildlog" 2>&1
}
stamp=$(cd "$SRC" && git rev-parse HEAD 2>/dev/null || echo "$SRC")
if [ "$(cat "$OUT/.stamp" 2>/dev/null)" != "$stamp" ]; then rm -f "$OUT"/*; fi
[ -x "$OUT/runtimetest" ] || gobuild "$OUT/runtimetest" cmd/runtimetest \
  || die "building cmd/runtimetest failed: $(tail -5 "$OUT/runtimetest.buildlog")"
tests=()
build_failed=()
for d in "$SRC"/validation/*/; do
  name=$(basename "$d")
  [ "$name" = util ] && continue
  grep -qs '^package main' "$d"/*.go || continue
  if [ $# -gt 0 ]; then [[ " $* " == *" $name "* ]] || continue; fi
  if [ -x "$OUT/$name.t" ] || gobuild "$OUT/$name.t" "validation/$name"; then tests+=("$name")
  else build_failed+=("$name"); fi
done
echo "$stamp" > "$OUT/.stamp"
[ ${#build_failed[@]} -eq 0 ] || echo "build failed (see $OUT/<name>.t.buildlog): ${build_failed[*]}"

# --- 4. rootfs: the programs untar ./rootfs-$GOARCH.tar.gz into the bundle (root path ".") and
#        copy ./runtimetest next to it, both relative to the cwd -------------------------------
if [ ! -s "$CACHE/rootfs-amd64.tar.gz" ]; then
  r=$(mktemp -d "$CACHE/rootfs.XXXX")
  mkdir -p "$r"/{bin,sbin,etc,proc,sys,dev,tmp,root,home,var,run}
  cp /bin/busybox "$r/bin/busybox"
  for app in $("$r/bin/busybox" --list); do [ -e "$r/bin/$app" ] || ln -s busybox "$r/bin/$app"; done
  echo 'root:x:0:0:root:/root:/bin/sh' > "$r/etc/passwd"
  echo 'nobody:x:65534:65534:nobody:/home:/bin/false' >> "$r/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$r/etc/group"
  chmod 1777 "$r/tmp"; chmod 755 "$r"
  tar -czf "$CACHE/rootfs-amd64.tar.gz.tmp" -C "$r" . && mv "$CACHE/rootfs-amd64.tar.gz.tmp" "$CACHE/rootfs-amd64.tar.gz"
  rm -rf "$r"
fi

# --- 5. run ------------------------------------------------------------------------------------
RUN=$(mktemp -d "$CACHE/run.XXXX")
cgroups_before=$RUN/cgroups.before
find /sys/fs/cgroup -mindepth 1 -maxdepth 4 -type d 2>/dev/null | sort > "$cgroups_before"

ids() { "$1" list --format json 2>/dev/null | jq -r '.[]?.id' 2>/dev/null | sort; }
cleanup_after() { # cleanup_after RUNTIME IDS-BEFORE-FILE TMPDIR
  local rt=$1 id
  for id in $(comm -13 "$2" <(ids "$rt")); do "$rt" delete --force "$id" >/dev/null 2>&1; done
  # mounts left under the test's TMPDIR (bundles are ocitest* dirs there), deepest first
  awk -v p="$3/" 'index($5, p) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null; done
  rm -rf "$3"
}

declare -A result first
run_one() { # run_one LABEL RUNTIME TEST
  local label=$1 rt=$2 t=$3 wd=$RUN/$1 log rc
  log=$RUN/$label.$t.tap
  mkdir -p "$wd" "$RUN/tmp.$label.$t"
  ln -sf "$OUT/runtimetest" "$wd/runtimetest"
  ln -sf "$CACHE/rootfs-amd64.tar.gz" "$wd/rootfs-amd64.tar.gz"
  ids "$rt" > "$RUN/ids.before"
  (cd "$wd" && TMPDIR=$RUN/tmp.$label.$t RUNTIME=$rt timeout -k 5 "$TIMEOUT" nice "$OUT/$t.t") >"$log" 2>&1
  rc=$?
  cleanup_after "$rt" "$RUN/ids.before" "$RUN/tmp.$label.$t"
  if [ $rc -eq 0 ] && ! grep -q '^not ok' "$log"; then result[$label.$t]=pass
  else
    [ $rc -eq 124 ] && result[$label.$t]=TIMEOUT || result[$label.$t]=FAIL
    first[$label.$t]=$(grep -m1 '^not ok' "$log" || echo "exit $rc: $(grep -v '^\(ok\|#\|1\.\.\|TAP\)' "$log" | head -1)")
  fi
}

for t in "${tests[@]}"; do
  run_one kiln "$KR" "$t"
  run_one runc "$RUNC" "$t"
done

# cgroups created during the run and left behind (deepest first); rmdir fails on busy ones
find /sys/fs/cgroup -mindepth 1 -maxdepth 4 -type d 2>/dev/null | sort |
  comm -13 "$cgroups_before" - | sort -r | while read -r c; do rmdir "$c" 2>/dev/null; done

# --- 6. report ---------------------------------------------------------------------------------
kp=0 rp=0 worse=()
printf '%-36s %-8s %-8s\n' TEST kiln runc
for t in "${tests[@]}"; do
  k=${result[kiln.$t]} r=${result[runc.$t]}
  [ "$k" = pass ] && kp=$((kp + 1)); [ "$r" = pass ] && rp=$((rp + 1))
  [ "$r" = pass ] && [ "$k" != pass ] && worse+=("$t")
  printf '%-36s %-8s %-8s\n' "$t" "$k" "$r"
done
printf '%-36s %-8s %-8s\n' "TOTAL (of ${#tests[@]})" "$kp" "$rp"
if [ ${#worse[@]} -gt 0 ]; then
  echo; echo "kiln fails, runc passes:"
  for t in "${worse[@]}"; do echo "  $t: ${first[kiln.$t]}"; done
fi
echo; echo "TAP logs: $RUN/<runtime>.<test>.tap"
