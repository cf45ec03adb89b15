#!/usr/bin/env bash
# Rootless start time: `kiln run --rm --network none IMAGE true` as an ordinary user, side by
# side in one hyperfine run with root kiln and with rootless `podman run --rm --network none`
# (runc and crun as its runtime). Prints each median and the ratios. Makes a throwaway user
# (with an /etc/subuid range) and removes it, with everything it made, on exit.
#
#   bench/rootless.sh [--runs N]        (as root; build kiln first)
set -euo pipefail

RUNS=30
while [ $# -gt 0 ]; do
  case $1 in
    --runs) RUNS=${2:?--runs needs a number}; shift 2 ;;
    -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "rootless.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "rootless.sh: --runs wants a positive number" >&2; exit 2; }

TOP=$(cd "$(dirname "$0")/.." && pwd)
KILN=$TOP/build/cli/kiln
die() { echo "rootless.sh: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "run as root (it makes a throwaway user)"
[ -x "$KILN" ] || die "no $KILN: build first"
for tool in hyperfine jq podman runc crun newuidmap; do command -v $tool >/dev/null || die "$tool is missing (tests/install-deps.sh)"; done

U=kiln-bench$$
W=$(mktemp -d /tmp/kiln-bench-rootless.XXXXXX)
chmod 711 "$W"
cleanup() {
  set +e
  pkill -9 -u "$U" 2>/dev/null
  KILN_ROOT=$W/rootstore KILN_RUN_ROOT=$W/rootrun "$KILN" rm -f $(KILN_ROOT=$W/rootstore KILN_RUN_ROOT=$W/rootrun "$KILN" ps -aq) >/dev/null 2>&1
  grep -F "$W" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l 2>/dev/null
  userdel -r "$U" >/dev/null 2>&1
  sed -i "/^$U:/d" /etc/subuid /etc/subgid
  rm -rf "$W"
}
trap cleanup EXIT
useradd -m -s /bin/sh "$U"
mkdir -p "$W/img/bin" "$W/xdg" "$W/pod/tmp"
cp /bin/busybox "$W/img/bin/busybox"; ln -s busybox "$W/img/bin/sh"; ln -s busybox "$W/img/bin/true"
tar -C "$W/img" -czf "$W/img.tar.gz" .
chown -R "$U": "$W/xdg" "$W/pod" "$W/img.tar.gz"; chmod 700 "$W/xdg"
cat > "$W/pod/containers.conf" <<EOF
[containers]
netns = "none"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$W/pod/events.log"
EOF
printf '[storage]\ndriver = "overlay"\nrunroot = "%s/runroot"\ngraphroot = "%s/root"\n' "$W/pod" "$W/pod" > "$W/pod/storage.conf"
chown -R "$U": "$W/pod"
USER_ENV="env -i PATH=/usr/bin:/bin HOME=/home/$U XDG_RUNTIME_DIR=$W/xdg CONTAINERS_CONF=$W/pod/containers.conf CONTAINERS_STORAGE_CONF=$W/pod/storage.conf TMPDIR=$W/pod/tmp"
as_user() { runuser -u "$U" -- $USER_ENV "$@"; }
as_user "$KILN" import "$W/img.tar.gz" bb:1 >/dev/null
as_user podman import -q "$W/img.tar.gz" localhost/bb:1 >/dev/null
KILN_ROOT=$W/rootstore KILN_RUN_ROOT=$W/rootrun "$KILN" import "$W/img.tar.gz" bb:1 >/dev/null

RUN_AS="runuser -u $U -- $USER_ENV"
# Every row runs in the same wrapper: a private mount namespace without the hybrid layout's
# cgroup2 mount, which crun refuses otherwise (as in bench/start.sh); the wrapper costs all alike.
PRE=''; mountpoint -q /sys/fs/cgroup/unified && PRE='umount /sys/fs/cgroup/unified && '
wrap() { echo "unshare -m sh -c '${PRE}exec $*'"; }
CMDS=("kiln rootless" "$(wrap "$RUN_AS $KILN run --rm --network none bb:1 true")"
  "kiln root" "$(wrap "env KILN_ROOT=$W/rootstore KILN_RUN_ROOT=$W/rootrun $KILN run --rm --network none bb:1 true")"
  "podman rootless (crun)" "$(wrap "$RUN_AS podman --runtime crun run --rm --network none localhost/bb:1 true")"
  "podman rootless (runc)" "$(wrap "$RUN_AS podman --runtime runc run --rm --network none localhost/bb:1 true")")
# Rootless podman keeps its namespaces in a pause process, made by its first command: stop the
# one import made, so that the next is made inside the wrapper (without the cgroup2 mount).
pkill -9 -u "$U" 2>/dev/null || true
for ((i = 0; i < ${#CMDS[@]}; i += 2)); do   # each works once before it is timed
  out=$(sh -c "${CMDS[i+1]}" 2>&1) || die "${CMDS[i]} failed: $out"
done
hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$W/r.json" \
  -n "${CMDS[0]}" "${CMDS[1]}" -n "${CMDS[2]}" "${CMDS[3]}" -n "${CMDS[4]}" "${CMDS[5]}" -n "${CMDS[6]}" "${CMDS[7]}" \
  >/dev/null
median() { jq -r --arg n "$1" '.results[] | select(.command == $n) | .median' "$W/r.json"; }
kr=$(median "kiln rootless"); k=$(median "kiln root"); pc=$(median "podman rootless (crun)"); pr=$(median "podman rootless (runc)")
printf '%-26s %9s\n' "command" "median"
for n in "kiln rootless" "kiln root" "podman rootless (crun)" "podman rootless (runc)"; do
  printf '%-26s %7.1f ms\n' "$n" "$(awk -v m="$(median "$n")" 'BEGIN { print m * 1000 }')"
done
printf 'kiln rootless / kiln root:               %.2fx (target <= 1.5x)\n' "$(awk -v a="$kr" -v b="$k" 'BEGIN { print a / b }')"
printf 'kiln rootless / podman rootless (crun):  %.2fx (target <= 0.2x)\n' "$(awk -v a="$kr" -v b="$pc" 'BEGIN { print a / b }')"
printf 'kiln rootless / podman rootless (runc):  %.2fx\n' "$(awk -v a="$kr" -v b="$pr" 'BEGIN { print a / b }')"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
