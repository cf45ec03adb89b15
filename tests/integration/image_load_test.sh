#!/usr/bin/env bash
# kiln load / unpack / images / inspect / history / rmi / import against fixture images built
# with umoci + skopeo (tests/fixtures/build-images.sh), compared file by file with umoci unpack.
source "$(dirname "$0")/lib.sh"
FIX=$TOP/tests/fixtures
IMAGES=$(bash "$FIX/build-images.sh") || { echo "fixture build failed" >&2; exit 1; }

# umoci's unpack of the fixture, made once and cached (it is the reference).
umoci_reference() {
  local ref=$IMAGES.umoci-ref  # with the images it was made from
  if [ ! -e "$ref/.done" ]; then
    rm -rf "$ref"; mkdir -p "$ref"
    umoci unpack --image "$IMAGES/oci:multi" "$ref/bundle" >/dev/null || fail "umoci unpack"
    python3 "$FIX/tree_manifest.py" "$ref/bundle/rootfs" > "$ref/manifest.txt"
    touch "$ref/.done"
  fi
  echo "$ref"
}

assert_same_as_umoci() { # assert_same_as_umoci ROOTFS
  local ref; ref=$(umoci_reference)
  python3 "$FIX/tree_manifest.py" "$1" > "$T/kiln-manifest.txt"
  # kiln unpack copies the stored layers, so it shows what a container's overlay shows: layer
  # 2's hardlink to layer 1's data/hl-src was copied up by the store (overlay has no links
  # across layers), so that pair is two files there; umoci links them. Only that group's hl=
  # is left out; hardlinks within a layer (data/same-a, same-b) are compared.
  diff -u <(sed 's/ *hl=data\/hl-link$//; s/ *$//' "$ref/manifest.txt") <(sed 's/ *hl=data\/hl-link$//; s/ *$//' "$T/kiln-manifest.txt") \
    > "$T/diff.txt" || { head -40 "$T/diff.txt"; fail "kiln unpack differs from umoci unpack"; }
  grep -q '^data/same-b file .* hl=data/same-a$' "$T/kiln-manifest.txt" || fail "hardlink within a layer lost"
}

load_and_compare() { # load_and_compare SOURCE
  "$KILN" --root "$T/store" load -q -i "$1" --name test/multi:latest > "$T/out" || fail "load $1"
  assert_contains "$(cat "$T/out")" "Loaded image: test/multi:latest"
  "$KILN" --root "$T/store" unpack test/multi "$T/bundle" || fail "unpack"
  assert_same_as_umoci "$T/bundle/rootfs"
  [ -z "$(ls -A "$T/store/tmp")" ] || fail "tmp not cleaned: $(ls "$T/store/tmp")"
}

test_oci_layout_matches_umoci() { load_and_compare "$IMAGES/oci"; }
test_oci_archive_matches_umoci() { load_and_compare "$IMAGES/multi.oci.tar"; }
test_docker_archive_matches_umoci() { load_and_compare "$IMAGES/multi.docker.tar"; }
test_zstd_layers_match_umoci() { load_and_compare "$IMAGES/oci-zstd"; }

test_archive_names_are_used() {
  out=$("$KILN" --root "$T/store" load -q -i "$IMAGES/multi.docker.tar") || fail "load"
  assert_contains "$out" "Loaded image: test/multi:latest"
  out=$("$KILN" --root "$T/store" load -q -i "$IMAGES/multi.oci.tar") || fail "load"
  assert_contains "$out" "Loaded image: test/multi:latest"
  # Both archives hold the same config, so the same image id and one row.
  assert_eq "$("$KILN" --root "$T/store" images -q | wc -l)" 1
}

test_bundle_config_from_image() {
  "$KILN" --root "$T/store" load -q -i "$IMAGES/oci" --name m || fail load
  "$KILN" --root "$T/store" unpack m "$T/b" || fail unpack
  assert_eq "$(jq -c .process.args "$T/b/config.json")" '["/bin/sh","-c","echo hi"]'
  assert_eq "$(jq -r .process.cwd "$T/b/config.json")" /data
  assert_eq "$(jq -c .process.user "$T/b/config.json")" '{"gid":2000,"uid":1000}'
  assert_contains "$(jq -c .process.env "$T/b/config.json")" '"FOO=bar"'
  assert_eq "$(jq -r .root.path "$T/b/config.json")" rootfs
}

test_unpack_refuses_nonempty_dir_and_cleans_up() {
  "$KILN" --root "$T/store" load -q -i "$IMAGES/oci" --name m || fail load
  mkdir -p "$T/full"; touch "$T/full/x"
  out=$("$KILN" --root "$T/store" unpack m "$T/full" 2>&1); assert_eq $? 125
  assert_contains "$out" "is not empty"
  out=$("$KILN" --root "$T/store" unpack nosuch "$T/new" 2>&1); assert_eq $? 125
  assert_contains "$out" "image nosuch not found"
  [ ! -e "$T/new" ] || fail "left $T/new behind"
}

test_unpack_copies_stored_layers_not_blobs() {
  "$KILN" --root "$T/store" load -q -i "$IMAGES/oci" --name m || fail load
  # The layer blobs are not read again: unpack works without them...
  for d in $("$KILN" --root "$T/store" inspect m | jq -r '.[0].Layers[].Digest' | sed 's/sha256://'); do
    rm "$T/store/blobs/sha256/$d" || fail "no blob $d"
  done
  "$KILN" --root "$T/store" unpack m "$T/b" || fail unpack
  assert_same_as_umoci "$T/b/rootfs"
  # ...but not without a layer dir: one line naming it, nothing left behind.
  chain=$("$KILN" --root "$T/store" inspect m | jq -r '.[0].Layers[1].ChainID')
  mv "$T/store/layers/${chain#sha256:}/diff" "$T/gone"
  out=$("$KILN" --root "$T/store" unpack m "$T/b2" 2>&1); assert_eq $? 125
  assert_contains "$out" "layer $chain is missing from the store"
  assert_eq "$(echo "$out" | wc -l)" 1
  [ ! -e "$T/b2" ] || fail "left $T/b2 behind"
}

test_unpack_disk_full_is_one_line_and_cleans_up() {
  "$KILN" --root "$T/store" load -q -i "$IMAGES/oci" --name m || fail load
  mkdir -p "$T/small"; mount -t tmpfs -o size=512k tmpfs "$T/small" || fail "mount tmpfs"
  out=$("$KILN" --root "$T/store" unpack m "$T/small/b" 2>&1); rc=$?
  left=$(ls -A "$T/small"); umount "$T/small"
  assert_eq $rc 125
  assert_eq "$(echo "$out" | wc -l)" 1 "one-line error"
  # the file and the call that failed (which file: whichever of the two threads hits it first)
  echo "$out" | grep -Eq '^kiln: unpack m: [^ ]+: [a-z_]+( O_CREAT)?: No space left on device$' || fail "error: $out"
  assert_eq "$left" "" "the partial bundle was removed"
}

test_layer_store_is_overlay_format() {
  "$KILN" --root "$T/store" load -q -i "$IMAGES/oci" --name m || fail load
  chains=$("$KILN" --root "$T/store" inspect m | jq -r '.[0].Layers[].ChainID' | sed 's/sha256://')
  l2=$(echo "$chains" | sed -n 2p); l3=$(echo "$chains" | sed -n 3p)
  [ -c "$T/store/layers/$l2/diff/data/a.txt" ] || fail "whiteout a.txt is not a char device"
  assert_eq "$(stat -c %t:%T "$T/store/layers/$l2/diff/data/a.txt")" "0:0"
  assert_eq "$(python3 -c 'import os,sys;print(os.getxattr(sys.argv[1],"trusted.overlay.opaque").decode())' "$T/store/layers/$l2/diff/data/dir2")" y
  [ -c "$T/store/layers/$l3/diff/data/dir1" ] || fail "dir whiteout missing"
  assert_eq "$(cat "$T/store/layers/$l2/diff/data/hl-link")" "hardlink source"  # copied up from layer 1
}

test_overlay_mount_equals_flat_unpack() {
  "$KILN" --root "$T/store" load -q -i "$IMAGES/oci" --name m || fail load
  lower=$("$KILN" --root "$T/store" inspect m | jq -r '.[0].Layers[].ChainID' | sed 's/sha256://' | tac |
          while read -r c; do printf '%s:' "$T/store/layers/$c/diff"; done)
  mkdir -p "$T/mnt"
  mount -t overlay overlay -o "lowerdir=${lower%:}" "$T/mnt" || fail "overlay mount"
  python3 "$FIX/tree_manifest.py" "$T/mnt" > "$T/ovl.txt"
  umount "$T/mnt"
  assert_same_as_umoci_file "$T/ovl.txt"
}
assert_same_as_umoci_file() {
  local ref; ref=$(umoci_reference)
  # overlayfs reports st_dev of the lower layer per file: hardlink groups split across layers
  # look the same; compare everything but the hl= column.
  diff -u <(sed 's/ *hl=.*//; s/ *$//' "$ref/manifest.txt") <(sed 's/ *hl=.*//; s/ *$//' "$1") > "$T/d" || { head -30 "$T/d"; fail "overlay view differs"; }
}

test_second_load_is_instant() {
  "$KILN" --root "$T/store" load -q -i "$IMAGES/oci" --name m || fail load
  start=$(date +%s%N)
  "$KILN" --root "$T/store" --debug load -q -i "$IMAGES/oci" --name m2 > /dev/null 2> "$T/debug.log" || fail "second load"
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  echo "second load: ${ms} ms"
  assert_eq "$(grep -c 'already stored' "$T/debug.log")" 3 "layers reused"
  assert_not_contains "$(cat "$T/debug.log")" "unpacking"
  [ "$ms" -lt 5000 ] || fail "second load took ${ms} ms"
  assert_eq "$(ls "$T/store/layers" | wc -l)" 3
}

test_images_inspect_history() {
  "$KILN" --root "$T/store" load -q -i "$IMAGES/oci" --name test/multi:v1 || fail load
  out=$("$KILN" --root "$T/store" images) || fail images
  assert_contains "$out" "test/multi"
  assert_contains "$out" "v1"
  id=$("$KILN" --root "$T/store" inspect test/multi:v1 | jq -r '.[0].Id')
  assert_contains "$id" "sha256:"
  assert_eq "$("$KILN" --root "$T/store" inspect "${id:7:12}" | jq -r '.[0].Config.WorkingDir')" /data
  assert_eq "$("$KILN" --root "$T/store" inspect "$id" | jq '.[0].Layers | length')" 3
  out=$("$KILN" --root "$T/store" history test/multi:v1) || fail history
  assert_contains "$out" "busybox rootfs"
  assert_contains "$out" "dir whiteout, hardlinks, long names"
  out=$("$KILN" --root "$T/store" inspect nosuch 2>&1); assert_eq $? 125
  assert_eq "$out" "kiln: image nosuch not found"
}

test_rmi_keeps_shared_layers() {
  "$KILN" --root "$T/store" load -q -i "$IMAGES/oci" --name a:1 || fail load
  "$KILN" --root "$T/store" load -q -i "$IMAGES/oci" --name a:2 || fail load
  mkdir -p "$T/r/etc"; echo other > "$T/r/etc/other"; tar -C "$T/r" -cf "$T/r.tar" .
  "$KILN" --root "$T/store" import "$T/r.tar" b:1 > /dev/null || fail import
  assert_eq "$(ls "$T/store/layers" | wc -l)" 4
  out=$("$KILN" --root "$T/store" rmi a:1) || fail rmi
  assert_eq "$out" "Untagged: a:1"
  assert_eq "$(ls "$T/store/layers" | wc -l)" 4
  "$KILN" --root "$T/store" rmi a:2 > /dev/null || fail rmi
  assert_eq "$(ls "$T/store/layers" | wc -l)" 1
  "$KILN" --root "$T/store" rmi b:1 > /dev/null || fail rmi
  assert_eq "$(ls "$T/store/layers" "$T/store/blobs/sha256" "$T/store/images" | grep -vc ':$\|^$')" 0
}

test_import_rootfs() {
  id=$("$KILN" --root "$T/store" import "$IMAGES/rootfs.tar.gz" my/rootfs:1) || fail import
  assert_contains "$id" "sha256:"
  "$KILN" --root "$T/store" unpack my/rootfs:1 "$T/b" || fail unpack
  [ -x "$T/b/rootfs/bin/busybox" ] || fail "no busybox"
  assert_eq "$(stat -c %a "$T/b/rootfs/bin/su-like")" 4755
  assert_eq "$(stat -c %u:%g "$T/b/rootfs/home/mine")" 1000:1000
}

test_concurrent_loads_share_layers() {
  "$KILN" --root "$T/store" load -q -i "$IMAGES/oci" --name c:1 & p1=$!
  "$KILN" --root "$T/store" load -q -i "$IMAGES/multi.oci.tar" --name c:2 & p2=$!
  wait $p1 || fail "load 1"; wait $p2 || fail "load 2"
  assert_eq "$(ls "$T/store/layers" | wc -l)" 3
  [ -z "$(ls -A "$T/store/tmp")" ] || fail "tmp not empty"
  "$KILN" --root "$T/store" unpack c:2 "$T/b" || fail unpack
  assert_same_as_umoci "$T/b/rootfs"
}

test_pinned_image_is_not_removed() {
  "$KILN" --root "$T/store" load -q -i "$IMAGES/oci" --name p:1 || fail load
  id=$("$KILN" --root "$T/store" inspect p:1 | jq -r '.[0].Id')
  mkdir -p "$T/store/refs/${id#sha256:}"; touch "$T/store/refs/${id#sha256:}/ctr1"   # what Store::pin writes
  out=$("$KILN" --root "$T/store" rmi p:1 2>&1); assert_eq $? 125
  assert_contains "$out" "in use by container ctr1"
  "$KILN" --root "$T/store" rmi -f p:1 > /dev/null || fail "rmi -f"
}

test_load_progress_only_on_terminal() {
  out=$("$KILN" --root "$T/store" load -i "$IMAGES/oci" --name q 2>&1) || fail load
  assert_eq "$out" "Loaded image: q:latest"
}

test_multi_platform_index_picks_host_or_platform() {
  for a in amd64 arm64; do
    mkdir -p "$T/$a"; echo "$a" > "$T/$a/arch"; tar -C "$T/$a" -cf "$T/$a.tar" arch
    python3 "$FIX/make_oci.py" "$T/img-$a" "$T/$a.tar" || fail make_oci
  done
  python3 - "$T" <<'PY' || fail "index"
import hashlib, json, os, shutil, sys
t = sys.argv[1]; out = t + "/multi"
os.makedirs(out + "/blobs/sha256")
shutil.copy(t + "/img-amd64/oci-layout", out)
entries = []
for arch in ("arm64", "amd64"):
    src = t + "/img-" + arch
    for b in os.listdir(src + "/blobs/sha256"): shutil.copy(src + "/blobs/sha256/" + b, out + "/blobs/sha256/")
    m = json.load(open(src + "/index.json"))["manifests"][0]
    m.pop("annotations"); m["platform"] = {"os": "linux", "architecture": arch}; entries.append(m)
idx = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries}).encode()
d = hashlib.sha256(idx).hexdigest(); open(out + "/blobs/sha256/" + d, "wb").write(idx)
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.index.v1+json", "digest": "sha256:" + d,
           "size": len(idx), "annotations": {"org.opencontainers.image.ref.name": "test/multiarch:1"}}]}, open(out + "/index.json", "w"))
PY
  "$KILN" --root "$T/store" load -q -i "$T/multi" || fail "load host platform"
  "$KILN" --root "$T/store" unpack test/multiarch:1 "$T/b1" || fail unpack
  assert_eq "$(cat "$T/b1/rootfs/arch")" amd64
  "$KILN" --root "$T/store" load -q -i "$T/multi" --platform linux/arm64 --name arm || fail "load arm64"
  "$KILN" --root "$T/store" unpack arm "$T/b2" || fail unpack
  assert_eq "$(cat "$T/b2/rootfs/arch")" arm64
  out=$("$KILN" --root "$T/store" load -q -i "$T/multi" --platform linux/s390x 2>&1); assert_eq $? 125
  assert_contains "$out" "no image for platform linux/s390x"
}

test_load_progress_on_terminal() {
  script -qec "$KILN --root $T/store load -i $IMAGES/oci --name tty" /dev/null > "$T/tty.out" || fail "load on a tty"
  assert_contains "$(cat "$T/tty.out")" "layer 3/3"
  assert_contains "$(cat "$T/tty.out")" "MiB/s"
  script -qec "$KILN --root $T/store load -q -i $IMAGES/oci --name tty2" /dev/null > "$T/tty2.out" || fail "load -q"
  assert_not_contains "$(cat "$T/tty2.out")" "MiB/s"
}

test_big_archive_loads_and_reloads_cheaply() {
  # A layer above the 32 MiB "small file" line of archive extraction: the second pass runs on
  # the first load only.
  mkdir -p "$T/big"; head -c 48M /dev/urandom > "$T/big/blob"; tar -C "$T/big" -cf "$T/big.tar" blob
  python3 "$FIX/make_oci.py" "$T/img" "$T/big.tar"; rm -rf "$T/big" "$T/big.tar"
  tar -C "$T/img" -cf "$T/img.tar" .
  "$KILN" --root "$T/store" load -q -i "$T/img.tar" > /dev/null || fail "load archive"
  "$KILN" --root "$T/store" unpack test/evil "$T/b" || fail unpack
  assert_eq "$(stat -c %s "$T/b/rootfs/blob")" $((48 << 20))
  start=$(date +%s%N)
  "$KILN" --root "$T/store" load -q -i "$T/img.tar" --name again > /dev/null || fail "reload archive"
  echo "archive reload: $(( ($(date +%s%N) - start) / 1000000 )) ms"
  assert_eq "$(ls -A "$T/store/tmp")" ""
}

run_tests
