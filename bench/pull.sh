#!/usr/bin/env bash
# Pull of a multi-layer image (a few hundred MiB, tens of thousands of files) from a registry on
# 127.0.0.1 by kiln, `podman pull` and `skopeo copy` to an OCI dir, in one run; then the same
# pulls again (everything present). Prints times and ratios.
#
# The image (built once into $KILN_BENCH_CACHE, default /tmp/kiln-bench-cache) is made from host
# files, no network: 5 layers (/usr/include, /usr/lib/python3*, /usr/share/doc, /usr/share/man,
# /usr/share/locale), gzip'd by umoci. The registry is Debian's docker-registry, started here on
# 127.0.0.1 over plain HTTP (all three tools get --tls-verify=false) and stopped at the end.
# kiln's and podman's times include unpacking into their stores (podman: overlay driver);
# skopeo's is download + verify only. Usage: KILN_BUILD=build bench/pull.sh
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
KILN=${KILN_BUILD:-$top/build}/cli/kiln
cache=${KILN_BENCH_CACHE:-/tmp/kiln-bench-cache}
img=$cache/pull-oci
[ -x "$KILN" ] || { echo "bench: $KILN not built" >&2; exit 1; }
for tool in umoci skopeo podman docker-registry jq bc; do
  command -v $tool >/dev/null || { echo "bench: $tool missing (tests/install-deps.sh)" >&2; exit 1; }
done

if [ ! -e "$img/.done" ]; then
  echo "== building the benchmark image (once)"
  rm -rf "$img"; mkdir -p "$cache"
  umoci init --layout "$img"
  umoci new --image "$img:bench"
  i=0
  for dirs in usr/include "$(cd / && ls -d usr/lib/python3* | tr '\n' ' ')" usr/share/doc usr/share/man usr/share/locale; do
    i=$((i + 1))
    # shellcheck disable=SC2086
    tar --numeric-owner -cf "$cache/pull-l$i.tar" -C / $dirs
    umoci raw add-layer --image "$img:bench" "$cache/pull-l$i.tar"
    rm -f "$cache/pull-l$i.tar"
  done
  touch "$img/.done"
fi

work=$(mktemp -d /tmp/kiln-bench-pull.XXXXXX)
cleanup() {
  set +e  # the killed registry's status (143) must not cut the cleanup short
  if [ -s "$work/registry.pid" ]; then kill "$(cat "$work/registry.pid")" 2>/dev/null; wait "$(cat "$work/registry.pid")" 2>/dev/null; fi
  podman --root "$work/podman" --runroot "$work/podman-run" rmi -a -f >/dev/null 2>&1 || true
  umount -R "$work/podman/overlay" 2>/dev/null
  rm -rf "$work"
  return 0
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/registry.yml" <<YML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $work/registry}}
http: {addr: 127.0.0.1:$port}
YML
docker-registry serve "$work/registry.yml" > "$work/registry.log" 2>&1 &
echo $! > "$work/registry.pid"
for _ in $(seq 50); do curl -fsS -m 1 -o /dev/null "http://127.0.0.1:$port/v2/" 2>/dev/null && break; sleep 0.1; done
REF=127.0.0.1:$port/bench/pull:1
skopeo copy -q --dest-tls-verify=false "oci:$img:bench" "docker://$REF"

now() { date +%s.%N; }
timed() { # timed VAR cmd...: runs cmd, stores seconds in VAR
  local var=$1; shift
  sync
  local s; s=$(now)
  "$@" > /dev/null 2>&1
  printf -v "$var" '%.3f' "$(echo "$(now) - $s" | bc -l)"
}
ratio() { echo "scale=2; $1 / $2" | bc -l; }
podman_() { podman --root "$work/podman" --runroot "$work/podman-run" --storage-driver overlay "$@"; }

manifest=$(jq -r '.manifests[0].digest' "$img/index.json" | cut -d: -f2)
layers=$(jq -r '.layers[].digest' "$img/blobs/sha256/$manifest" | cut -d: -f2)
size=$(for l in $layers; do stat -c %s "$img/blobs/sha256/$l"; done | paste -sd+ | bc)
echo "== image: $(echo "$layers" | wc -l) layers, $((size / 1048576)) MiB compressed, from $REF"

timed t_kiln "$KILN" --root "$work/kiln" pull -q --tls-verify=false "$REF"
timed t_podman podman_ pull -q --tls-verify=false "$REF"
timed t_skopeo skopeo copy -q --src-tls-verify=false "docker://$REF" "oci:$work/skopeo:bench"
timed t_kiln2 "$KILN" --root "$work/kiln" pull -q --tls-verify=false "$REF"
timed t_podman2 podman_ pull -q --tls-verify=false "$REF"
timed t_skopeo2 skopeo copy -q --src-tls-verify=false "docker://$REF" "oci:$work/skopeo:bench"

printf '%-44s %8s s\n' "kiln pull (download, verify, unpack)" "$t_kiln" "podman pull (overlay)" "$t_podman" \
  "skopeo copy to an OCI dir (no unpack)" "$t_skopeo" "kiln pull again (all present)" "$t_kiln2" \
  "podman pull again" "$t_podman2" "skopeo copy again" "$t_skopeo2"
echo "ratios: kiln / podman = $(ratio "$t_kiln" "$t_podman"), kiln / skopeo = $(ratio "$t_kiln" "$t_skopeo"), again: kiln / podman = $(ratio "$t_kiln2" "$t_podman2")"

# One repeated pull is a single sample of a few tens of ms on a shared VM: hyperfine gives the
# median of several, kiln's and podman's in the same run.
if command -v hyperfine >/dev/null; then
  hyperfine -N -w 2 -r "${KILN_BENCH_AGAIN_RUNS:-15}" --export-json "$work/again.json" \
    -n kiln "$KILN --root $work/kiln pull -q --tls-verify=false $REF" \
    -n podman "podman --root $work/podman --runroot $work/podman-run --storage-driver overlay pull -q --tls-verify=false $REF" \
    > /dev/null
  med() { jq -r --arg n "$1" '.results[] | select(.command == $n) | .median * 1000 | floor' "$work/again.json"; }
  k=$(med kiln) p=$(med podman)
  echo "pull again, median of ${KILN_BENCH_AGAIN_RUNS:-15}: kiln ${k} ms, podman ${p} ms, kiln / podman = $(ratio "$k" "$p") (target: kiln <= 50 ms)"
fi
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
