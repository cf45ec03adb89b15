# Shared helpers for integration tests. Each test file sources this, defines test_* functions
# and ends with `run_tests`. Every test runs in its own subshell with its own temp dir ($T) and
# its own runtime state root; after each test we check that nothing was left behind.
set -uo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
KILN_BUILD=$(cd "${KILN_BUILD:-$TOP/build}" && pwd)
KR=$KILN_BUILD/cli/kiln-runtime
KILN=$KILN_BUILD/cli/kiln
export KILN_TEST_CACHE=${KILN_TEST_CACHE:-/tmp/kiln-test-cache}
# Short names never reach a registry outside the tests (kiln run pulls what is missing).
export CONTAINERS_REGISTRIES_CONF=$TOP/tests/fixtures/registries.conf

fail() { echo "    FAIL: $*" >&2; exit 1; }
assert_eq() { [ "$1" == "$2" ] || fail "${3:-values differ}: expected [$2], got [$1]"; }
assert_contains() { [[ "$1" == *"$2"* ]] || fail "${3:-missing text}: [$2] not in [$1]"; }
assert_not_contains() { [[ "$1" != *"$2"* ]] || fail "${3:-unexpected text}: [$2] found in [$1]"; }
assert_status() { # assert_status EXPECTED cmd...
  local want=$1; shift
  "$@"; local got=$?
  [ "$got" -eq "$want" ] || fail "exit status of [$*]: expected $want, got $got"
}

# A busybox root filesystem (from Debian's busybox-static), made once and copied per test.
busybox_rootfs() { # busybox_rootfs DIR
  local cache=$KILN_TEST_CACHE/busybox-rootfs
  if [ ! -x "$cache/bin/busybox" ]; then
    local tmp; tmp=$(mktemp -d "$KILN_TEST_CACHE.XXXX" 2>/dev/null || { mkdir -p "$KILN_TEST_CACHE"; mktemp -d "$KILN_TEST_CACHE/tmp.XXXX"; })
    mkdir -p "$tmp"/{bin,sbin,etc,proc,sys,dev,tmp,root,home,var,run}
    cp /bin/busybox "$tmp/bin/busybox"
    for app in $("$tmp/bin/busybox" --list); do [ -e "$tmp/bin/$app" ] || ln -s busybox "$tmp/bin/$app"; done
    echo 'root:x:0:0:root:/root:/bin/sh' > "$tmp/etc/passwd"
    echo 'nobody:x:65534:65534:nobody:/home:/bin/false' >> "$tmp/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' > "$tmp/etc/group"
    chmod 1777 "$tmp/tmp"; chmod 755 "$tmp"
    mkdir -p "$KILN_TEST_CACHE"; rm -rf "$cache"; mv "$tmp" "$cache"
  fi
  mkdir -p "$1"; cp -a "$cache"/. "$1"/
}

# A bundle with `kiln-runtime spec` defaults and a busybox rootfs; args replace process.args.
make_bundle() { # make_bundle DIR [args...]
  local dir=$1; shift
  mkdir -p "$dir"; busybox_rootfs "$dir/rootfs"
  (cd "$dir" && "$KR" spec) || fail "kiln-runtime spec"
  if [ $# -gt 0 ]; then
    local args; args=$(printf '%s\n' "$@" | jq -R . | jq -s -c .)
    edit_config "$dir" ".process.args = $args"
  fi
}
edit_config() { # edit_config BUNDLE JQ-EXPR
  local tmp; tmp=$(mktemp)
  jq "$2" "$1/config.json" > "$tmp" || fail "jq $2"
  mv "$tmp" "$1/config.json"
}

# The --debug stage names in FILE ("stage <monotonic us> <name>" lines, from several processes),
# in time order (a stable sort: lines with the same stamp keep the order they were logged in).
stage_names() { grep -oE 'stage [0-9]+ .*' "$1" | sort -s -n -k2,2 | cut -d' ' -f3-; }
# assert_stages_in_order FILE NAME...: each NAME is a stage of FILE, in this order (others may
# come between).
assert_stages_in_order() {
  local file=$1 got want; shift
  got=$(stage_names "$file" | grep -Fx -f <(printf '%s\n' "$@"))
  want=$(printf '%s\n' "$@")
  [ "$got" == "$want" ] || fail "stages out of order or missing: expected [$(echo $want)], got [$(echo $got)] from [$(stage_names "$file" | tr '\n' ',')]"
}

# Every cgroup directory runtimes make for containers, in every hierarchy: kiln-runtime's and
# kiln run's kiln/<id>, and whatever else a test named after its $ID.
cgroup_dirs() { find /sys/fs/cgroup -maxdepth 5 -type d -path '*/kiln/*' 2>/dev/null | sort; }
leftovers() { # prints anything a test left on the host: under its own names, or new kiln/* cgroups
  grep -E "$1" /proc/self/mountinfo | awk '{print "mount " $5}'
  find /sys/fs/cgroup -maxdepth 4 -type d -name "*$2*" 2>/dev/null | sed 's/^/cgroup /'
  [ -n "${3:-}" ] && comm -13 "$3" <(cgroup_dirs) | grep -v -- "$2" | sed 's/^/cgroup /'
  pgrep -f "$2" | grep -v "^$$\$" | while read -r p; do echo "process $p $(tr '\0' ' ' < /proc/$p/cmdline 2>/dev/null)"; done
}

# Each test runs as its own process (this file re-run with KILN_ONE_TEST=name) under timeout(1):
# a test that hangs is killed with its whole process group after KILN_TEST_TIMEOUT seconds and
# reported, instead of stalling the suite (and CI) forever.
run_tests() {
  if [ -n "${KILN_ONE_TEST:-}" ]; then
    cd "$T" || exit 1
    "$KILN_ONE_TEST"
    exit $?
  fi
  local names failed=0 passed=0 limit=${KILN_TEST_TIMEOUT:-300}
  names=$(declare -F | awk '{print $3}' | grep '^test_' )
  for name in $names; do
    [ -n "${KILN_TEST:-}" ] && [[ "$name" != *"$KILN_TEST"* ]] && continue
    local T; T=$(mktemp -d /tmp/kiln-t.XXXXXX)
    local ID="kt$RANDOM$RANDOM"
    cgroup_dirs > "$T.cgroups"
    T=$T ID=$ID STATE=$T/state KILN_ONE_TEST=$name \
      timeout -k 10 "$limit" bash "$0" < /dev/null > "$T.log" 2>&1
    local rc=$?
    [ $rc -eq 124 ] || [ $rc -eq 137 ] && echo "    FAIL: timed out after ${limit}s (killed)" >> "$T.log"
    local left; left=$(leftovers "$T" "$ID" "$T.cgroups")
    if [ $rc -eq 0 ] && [ -z "$left" ]; then
      passed=$((passed + 1)); echo "  ok   $name"
    else
      failed=$((failed + 1)); echo "  FAIL $name"; sed 's/^/      /' "$T.log" | tail -25
      [ -n "$left" ] && echo "      left behind: $left"
    fi
    # Remove what a failed test left (after the check above has reported it): processes first
    # (a hung test's daemons), then containers, mounts, the dir.
    [ -n "$left" ] && pgrep -f "$T/" | xargs -r kill -9 2>/dev/null
    for c in $(ls "$T/state" 2>/dev/null); do "$KR" --root "$T/state" delete --force "$c" >/dev/null 2>&1; done
    grep -F "$T" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l 2>/dev/null
    rm -rf "$T" "$T.log" "$T.cgroups"
  done
  echo "  $passed passed, $failed failed"
  [ $failed -eq 0 ]
}
