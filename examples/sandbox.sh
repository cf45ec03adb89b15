#!/usr/bin/env bash
# Try an untrusted image in a sandbox: no network (loopback only), read-only root filesystem,
# all capabilities dropped, a non-root user, 64 MiB of memory, 32 processes, half a CPU, and a
# timeout after which it is killed (exit status 124). Nothing it does survives the run (--rm).
#
#   examples/sandbox.sh IMAGE [COMMAND...]     (as root; e.g. examples/sandbox.sh busybox sh -c 'ls /')
set -euo pipefail
[ $# -ge 1 ] || { sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
KILN=${KILN:-$(cd "$(dirname "$0")/.." && pwd)/build/cli/kiln}
image=$1; shift
exec "$KILN" run --rm \
  --network none \
  --read-only \
  --cap-drop ALL \
  --user 65534:65534 \
  --memory 64m --pids-limit 32 --cpus 0.5 \
  --timeout "${SANDBOX_TIMEOUT:-30}" \
  "$image" "$@"
