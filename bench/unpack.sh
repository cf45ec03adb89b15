#!/usr/bin/env bash
# Load + unpack of a large image with kiln, side by side with `umoci unpack` and plain
# `tar -x` of the same layer blobs, in one run; prints times and ratios.
#
# The image (built once into $KILN_BENCH_CACHE, default /tmp/kiln-bench-cache) is made from
# host files so it needs no network: layer 1 = /usr/include + /usr/lib/python3*, layer 2 =
# /usr/share/doc + /usr/share/man (a few hundred MB, tens of thousands of files), gzip'd by
# umoci. Usage: KILN_BUILD=build bench/unpack.sh
# KILN_BENCH_TMP (default /tmp) is where the stores and bundles go: a tmpfs there (/dev/shm)
# takes the file system's inode allocation out of the figures and leaves the CPU work
# (digests, inflate, tar parsing). KILN_INFLATE=zlib makes kiln inflate gzip with zlib.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
KILN=${KILN_BUILD:-$top/build}/cli/kiln
cache=${KILN_BENCH_CACHE:-/tmp/kiln-bench-cache}
img=$cache/oci
[ -x "$KILN" ] || { echo "bench: $KILN not built" >&2; exit 1; }

if [ ! -e "$cache/.done" ]; then
  echo "== building the benchmark image (once)"
  rm -rf "$cache"; mkdir -p "$cache"
  tar --numeric-owner -cf "$cache/l1.tar" -C / usr/include $(cd / && ls -d usr/lib/python3*)
  tar --numeric-owner -cf "$cache/l2.tar" -C / usr/share/doc usr/share/man
  umoci init --layout "$img"
  umoci new --image "$img:bench"
  umoci raw add-layer --image "$img:bench" "$cache/l1.tar"
  umoci raw add-layer --image "$img:bench" "$cache/l2.tar"
  rm -f "$cache"/l*.tar
  touch "$cache/.done"
fi

work=$(mktemp -d "${KILN_BENCH_TMP:-/tmp}/kiln-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
now() { date +%s.%N; }
timed() { # timed VAR cmd...: runs cmd, stores seconds in VAR
  local var=$1; shift
  sync
  local s; s=$(now)
  "$@" > /dev/null
  printf -v "$var" '%.3f' "$(echo "$(now) - $s" | bc -l)"
}
ratio() { echo "scale=2; $1 / $2" | bc -l; }

manifest=$(jq -r '.manifests[0].digest' "$img/index.json" | cut -d: -f2)
layers=$(jq -r '.layers[].digest' "$img/blobs/sha256/$manifest" | cut -d: -f2)
size=$(for l in $layers; do stat -c %s "$img/blobs/sha256/$l"; done | paste -sd+ | bc)
echo "== image: $(echo "$layers" | wc -l) layers, $((size / 1048576)) MiB compressed"

timed t_load "$KILN" --root "$work/store" load -q -i "$img" --name bench
timed t_unpack "$KILN" --root "$work/store" unpack bench "$work/kiln-bundle"
timed t_reload "$KILN" --root "$work/store" load -q -i "$img" --name bench2
timed t_umoci umoci unpack --image "$img:bench" "$work/umoci-bundle"
mkdir -p "$work/tar"
tar_all() { for l in $layers; do tar --numeric-owner -xzf "$img/blobs/sha256/$l" -C "$work/tar"; done; }
timed t_tar tar_all
files=$(find "$work/tar" | wc -l)
t_both=$(echo "$t_load + $t_unpack" | bc -l)

printf '%-34s %8s s\n' "kiln load (verify + layer store)" "$t_load" "kiln unpack (flat bundle)" "$t_unpack" \
  "kiln load + unpack" "$t_both" "kiln load again (layers present)" "$t_reload" "umoci unpack" "$t_umoci" "tar -x (same blobs)" "$t_tar"
echo "files: $files"
echo "ratios: kiln unpack / umoci = $(ratio "$t_unpack" "$t_umoci"), kiln load / umoci = $(ratio "$t_load" "$t_umoci"), kiln load+unpack / umoci = $(ratio "$t_both" "$t_umoci")"
# What crash-safe publishing (fsync/syncfs before each rename into the store) costs kiln load:
# the wall time a first load spends in those calls (strace -f -c -w), against its total.
if command -v strace >/dev/null; then
  sync
  strace -f -c -w -e trace=fsync,fdatasync,syncfs -o "$work/strace.txt" \
    "$KILN" --root "$work/store-strace" load -q -i "$img" --name bench >/dev/null
  t_sync=$(awk '$NF == "total" {print $2}' "$work/strace.txt")
  printf '%-34s %8.3f s in %s calls (%s%% of the first load)\n' "kiln load: fsync + syncfs" "${t_sync:-0}" \
    "$(awk '$NF == "total" {print $4}' "$work/strace.txt")" "$(echo "scale=1; 100 * ${t_sync:-0} / $t_load" | bc -l)"
fi
echo "        kiln unpack / tar = $(ratio "$t_unpack" "$t_tar"), kiln load / tar = $(ratio "$t_load" "$t_tar"), second load / first = $(ratio "$t_reload" "$t_load")"
