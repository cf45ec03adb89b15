#!/usr/bin/env bash
# Hostile images: each is refused with one clear error, nothing is written outside the store
# (a canary dir must stay untouched), and the store is left as it was (no image, no layer,
# empty tmp/).
source "$(dirname "$0")/lib.sh"
FIX=$TOP/tests/fixtures

setup_canary() {
  mkdir -p "$T/canary"; echo safe > "$T/canary/victim"
}
check_nothing_left() {
  assert_eq "$(ls "$T/canary")" "victim" "canary dir changed"
  assert_eq "$(cat "$T/canary/victim")" "safe" "victim was written through"
  assert_eq "$(stat -c %h "$T/canary/victim")" 1 "victim got a hardlink"
  if [ -d "$T/store" ]; then
    assert_eq "$(ls -A "$T/store/images" "$T/store/layers" "$T/store/tmp" | grep -vc ':$\|^$')" 0 "store not clean"
  fi
}
# load_evil KIND EXPECTED-ERROR-TEXT
load_evil() {
  setup_canary
  python3 "$FIX/evil_tar.py" "$1" "$T/layer.tar" "$T/canary" || fail "craft $1"
  python3 "$FIX/make_oci.py" "$T/img" "$T/layer.tar" || fail "make_oci"
  out=$("$KILN" --root "$T/store" load -q -i "$T/img" 2>&1); rc=$?
  echo "$out"
  assert_eq $rc 125 "exit status"
  assert_eq "$(echo "$out" | wc -l)" 1 "one-line error"
  assert_contains "$out" "$2"
  check_nothing_left
}

test_path_traversal() { load_evil traversal "climbs out of the root"; }
test_absolute_path_stays_inside() {
  setup_canary
  python3 "$FIX/evil_tar.py" absolute "$T/layer.tar" "$T/canary"
  python3 "$FIX/make_oci.py" "$T/img" "$T/layer.tar"
  "$KILN" --root "$T/store" load -q -i "$T/img" --name abs || fail "absolute names are taken inside the root"
  [ -f "$T/store/layers/"*"/diff$T/canary/pwned" ] || fail "absolute entry not inside the layer"
  assert_eq "$(ls "$T/canary")" victim
}
test_symlink_then_write_through() {
  setup_canary
  python3 "$FIX/evil_tar.py" symlink "$T/layer.tar" "$T/canary"
  python3 "$FIX/make_oci.py" "$T/img" "$T/layer.tar"
  "$KILN" --root "$T/store" load -q -i "$T/img" 2>&1; rc=$?
  # Either refused, or the write landed inside the layer; never in the canary.
  assert_eq "$(ls "$T/canary")" victim
  [ $rc -eq 0 ] || check_nothing_left
}
test_relative_symlink_then_write_through() {
  setup_canary
  python3 "$FIX/evil_tar.py" symlink-relative "$T/layer.tar" "$T/canary"
  python3 "$FIX/make_oci.py" "$T/img" "$T/layer.tar"
  "$KILN" --root "$T/store" load -q -i "$T/img" 2>&1
  assert_eq "$(ls "$T/canary")" victim
}
test_unpack_upper_dir_over_lower_symlink() {
  setup_canary
  python3 "$FIX/evil_tar.py" symlink-lower "$T/l1.tar" "$T/canary"
  python3 "$FIX/evil_tar.py" dir-upper "$T/l2.tar" "$T/canary"
  python3 "$FIX/make_oci.py" "$T/img" "$T/l1.tar" "$T/l2.tar"
  "$KILN" --root "$T/store" load -q -i "$T/img" > /dev/null || fail load
  "$KILN" --root "$T/store" unpack test/evil "$T/b" || fail unpack
  # The flat copy makes a real dir, as the overlay of the two layers shows, never writes
  # through the lower layer's link.
  [ -d "$T/b/rootfs/escape" ] && [ ! -L "$T/b/rootfs/escape" ] || fail "escape is not a real dir"
  assert_eq "$(cat "$T/b/rootfs/escape/pwned")" pwned
  assert_eq "$(ls "$T/canary")" victim
  assert_eq "$(cat "$T/canary/victim")" safe
}
test_hardlink_to_outside() { load_evil hardlink "climbs out of the root"; }
test_hardlink_absolute_to_outside() { load_evil hardlink-absolute "which is not in the image"; }

test_gzip_bomb_refused() {
  setup_canary
  python3 "$FIX/evil_tar.py" bomb "$T/layer.tar" "$T/canary"; gzip -9 "$T/layer.tar"
  python3 "$FIX/make_oci.py" "$T/img" "$T/layer.tar.gz"
  out=$(KILN_MAX_LAYER_SIZE=1048576 "$KILN" --root "$T/store" load -q -i "$T/img" 2>&1); assert_eq $? 125
  assert_contains "$out" "decompresses to more than the limit of 1048576 bytes"
  check_nothing_left
}

test_outer_archive_bomb_stops_at_the_limit() {
  # A gzip'd oci-archive whose layer blob (an uncompressed 4 MiB tar) is over the limit: the
  # extraction of the OUTER archive must stop at the limit, before the blob is on disk.
  setup_canary
  python3 "$FIX/evil_tar.py" bomb "$T/layer.tar" "$T/canary"
  python3 "$FIX/make_oci.py" "$T/img" "$T/layer.tar"
  tar -C "$T/img" -cf - . | gzip -1 > "$T/img.tar.gz"
  mkdir -p "$T/store/tmp"
  # Sample the store's tmp while the load runs: the 4 MiB blob must never be written out.
  ( for i in $(seq 400); do du -sb "$T/store/tmp" 2>/dev/null | cut -f1; sleep 0.005; done > "$T/tmp-sizes" ) &
  sampler=$!
  out=$(KILN_MAX_LAYER_SIZE=1048576 "$KILN" --root "$T/store" load -q -i "$T/img.tar.gz" 2>&1); rc=$?
  kill $sampler 2>/dev/null; wait $sampler 2>/dev/null
  echo "$out"
  assert_eq $rc 125
  assert_eq "$(echo "$out" | wc -l)" 1 "one-line error"
  assert_contains "$out" "larger than the limit of 1048576 bytes"
  max=$(sort -n "$T/tmp-sizes" | tail -1)
  [ "${max:-0}" -lt 2097152 ] || fail "store tmp grew to $max bytes (limit 1 MiB)"
  check_nothing_left
}

test_outer_archive_entry_count_bounded() {
  # 100,001 empty files in an outer archive: refused by count, not after writing them all.
  setup_canary
  python3 - "$T/many.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w") as t:
    for i in range(100001):
        info = tarfile.TarInfo("f%d" % i); info.size = 0
        t.addfile(info, io.BytesIO(b""))
PY
  out=$("$KILN" --root "$T/store" load -q -i "$T/many.tar" 2>&1); rc=$?
  echo "$out"
  assert_eq $rc 125
  assert_contains "$out" "more than 100000 entries"
  check_nothing_left
}

good_image() {
  setup_canary
  printf 'hello\n' > "$T/hello"; tar -C "$T" -cf "$T/layer.tar" hello; gzip -k "$T/layer.tar"
  python3 "$FIX/make_oci.py" "$T/img" "$T/layer.tar.gz"
}
layer_blob() { jq -r '.layers[0].digest' "$T/img/blobs/sha256/$(jq -r '.manifests[0].digest' "$T/img/index.json" | cut -d: -f2)" | cut -d: -f2; }
manifest_blob() { jq -r '.manifests[0].digest' "$T/img/index.json" | cut -d: -f2; }
config_blob() { jq -r '.config.digest' "$T/img/blobs/sha256/$(manifest_blob)" | cut -d: -f2; }
expect_refused() { # expect_refused TEXT
  out=$("$KILN" --root "$T/store" load -q -i "${SRC:-$T/img}" 2>&1); rc=$?
  echo "$out"
  assert_eq $rc 125; assert_eq "$(echo "$out" | wc -l)" 1 "one-line error"
  assert_contains "$out" "$1"
  check_nothing_left
}

test_tampered_layer_blob() {
  good_image
  b=$(layer_blob); printf 'x' >> "$T/img/blobs/sha256/$b"
  expect_refused "sha256:$b"
}
test_tampered_layer_same_size() {
  good_image
  b=$(layer_blob); f=$T/img/blobs/sha256/$b
  python3 -c "import sys;p=sys.argv[1];d=bytearray(open(p,'rb').read());d[-9]^=1;open(p,'wb').write(d)" "$f"
  expect_refused "sha256:$b"
}
test_tampered_config() {
  good_image
  c=$(config_blob); sed -i 's/amd64/arm64/' "$T/img/blobs/sha256/$c"
  expect_refused "config blob sha256:$c digest mismatch"
}
test_wrong_diff_id() {
  good_image
  # A consistent manifest chain whose config promises another diff_id.
  echo other > "$T/hello"; tar -C "$T" -cf "$T/other.tar" hello
  python3 - "$T/img" "$T/other.tar" <<'PY'
import hashlib, json, os, sys
img, other = sys.argv[1], sys.argv[2]
def put(data):
    d = hashlib.sha256(data).hexdigest(); open(os.path.join(img, "blobs/sha256", d), "wb").write(data); return "sha256:" + d
idx = json.load(open(os.path.join(img, "index.json")))
man = json.load(open(os.path.join(img, "blobs/sha256", idx["manifests"][0]["digest"][7:])))
cfg = json.load(open(os.path.join(img, "blobs/sha256", man["config"]["digest"][7:])))
cfg["rootfs"]["diff_ids"] = ["sha256:" + hashlib.sha256(open(other, "rb").read()).hexdigest()]
c = json.dumps(cfg).encode(); man["config"]["digest"] = put(c); man["config"]["size"] = len(c)
m = json.dumps(man).encode(); idx["manifests"][0]["digest"] = put(m); idx["manifests"][0]["size"] = len(m)
json.dump(idx, open(os.path.join(img, "index.json"), "w"))
PY
  expect_refused "diff_id"
}
test_missing_layer_blob() {
  good_image; b=$(layer_blob); rm "$T/img/blobs/sha256/$b"
  expect_refused "layer blob sha256:$b is missing"
}
test_missing_manifest_blob() {
  good_image; m=$(manifest_blob); rm "$T/img/blobs/sha256/$m"
  expect_refused "manifest blob sha256:$m is missing"
}
test_truncated_gzip_layer() {
  good_image
  # A consistent chain around a truncated gzip: only the decompressor can notice.
  head -c 100 "$T/layer.tar.gz" > "$T/trunc.tar.gz"
  rm -rf "$T/img"; python3 - "$T/img" "$T/trunc.tar.gz" "$T/layer.tar" <<'PY'
import hashlib, json, os, sys
out, blob, raw = sys.argv[1:]
os.makedirs(out + "/blobs/sha256")
open(out + "/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
def put(data):
    d = hashlib.sha256(data).hexdigest(); open(out + "/blobs/sha256/" + d, "wb").write(data); return "sha256:" + d
b = open(blob, "rb").read()
cfg = json.dumps({"os": "linux", "architecture": "amd64", "rootfs": {"type": "layers",
      "diff_ids": ["sha256:" + hashlib.sha256(open(raw, "rb").read()).hexdigest()]}}).encode()
man = json.dumps({"schemaVersion": 2, "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": put(cfg), "size": len(cfg)},
      "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": put(b), "size": len(b)}]}).encode()
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": put(man), "size": len(man)}]},
          open(out + "/index.json", "w"))
PY
  expect_refused "layer sha256:"
}
test_malformed_index() {
  good_image; echo '{"schemaVersion":2,"manifests":' > "$T/img/index.json"
  expect_refused "malformed index: not valid JSON"
}
test_malformed_manifest() {
  good_image; m=$(manifest_blob)
  echo '{"schemaVersion":2}' > "$T/img/blobs/sha256/$m"
  expect_refused "manifest blob sha256:$m digest mismatch"   # content changed: caught by digest first
}
test_malformed_manifest_with_valid_digest() {
  good_image
  printf '{"schemaVersion":2,"layers":[]}' > "$T/m.json"
  d=$(sha256sum "$T/m.json" | cut -d' ' -f1); s=$(stat -c %s "$T/m.json"); cp "$T/m.json" "$T/img/blobs/sha256/$d"
  echo "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:$d\",\"size\":$s}]}" > "$T/img/index.json"
  expect_refused 'malformed manifest: missing "config"'
}
test_malformed_config_with_valid_digest() {
  good_image
  printf '{"os":"linux"' > "$T/c.json"
  c=$(sha256sum "$T/c.json" | cut -d' ' -f1); cs=$(stat -c %s "$T/c.json"); cp "$T/c.json" "$T/img/blobs/sha256/$c"
  m=$(manifest_blob)
  jq -c ".config.digest = \"sha256:$c\" | .config.size = $cs" "$T/img/blobs/sha256/$m" > "$T/m.json"
  d=$(sha256sum "$T/m.json" | cut -d' ' -f1); s=$(stat -c %s "$T/m.json"); cp "$T/m.json" "$T/img/blobs/sha256/$d"
  echo "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:$d\",\"size\":$s}]}" > "$T/img/index.json"
  expect_refused "malformed image config: not valid JSON"
}
test_malformed_docker_manifest() {
  setup_canary
  mkdir -p "$T/d"; echo '[{"Config":5}]' > "$T/d/manifest.json"; tar -C "$T/d" -cf "$T/d.tar" manifest.json
  SRC=$T/d.tar expect_refused 'malformed manifest.json: missing "Config"'
}
test_docker_archive_escaping_names() {
  setup_canary
  mkdir -p "$T/d"
  echo "[{\"Config\":\"../../../../../../..$T/canary/victim\",\"Layers\":[]}]" > "$T/d/manifest.json"
  tar -C "$T/d" -cf "$T/d.tar" manifest.json
  SRC=$T/d.tar expect_refused "is missing"
}
test_not_an_image() {
  setup_canary; mkdir -p "$T/empty"
  SRC=$T/empty expect_refused "not an OCI image layout or docker archive"
}

test_fifo_blob_does_not_hang() {
  good_image; b=$(layer_blob); rm "$T/img/blobs/sha256/$b"; mkfifo "$T/img/blobs/sha256/$b"
  out=$(timeout 10 "$KILN" --root "$T/store" load -q -i "$T/img" 2>&1); rc=$?
  assert_eq $rc 125; assert_contains "$out" "is not a regular file"
  check_nothing_left
}

test_crash_leftovers_are_cleaned() {
  good_image
  # What a load killed mid-way leaves: a work dir of a dead process under tmp/.
  mkdir -p "$T/store/tmp/999999999-abcdef/layer-0/diff/half"
  "$KILN" --root "$T/store" load -q -i "$T/img" --name ok > /dev/null || fail load
  assert_eq "$(ls -A "$T/store/tmp")" "" "stale tmp dir not cleaned"
  assert_eq "$(ls "$T/store/layers" | wc -l)" 1
}

test_killed_load_leaves_consistent_store() {
  setup_canary
  mkdir -p "$T/big"; head -c 96M /dev/urandom > "$T/big/blob"; tar -C "$T/big" -cf "$T/big.tar" blob
  python3 "$FIX/make_oci.py" "$T/img" "$T/big.tar"; rm -rf "$T/big" "$T/big.tar"
  "$KILN" --root "$T/store" load -q -i "$T/img" --name big & pid=$!
  sleep 0.4; kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
  # Whatever was committed is complete: every layer dir has its metadata.
  for l in "$T/store/layers"/*; do [ -e "$l" ] || continue; [ -f "$l/layer.json" ] || fail "half layer $l"; done
  "$KILN" --root "$T/store" load -q -i "$T/img" --name big > /dev/null || fail "reload after kill"
  assert_eq "$(ls -A "$T/store/tmp")" "" "leftovers of the killed load"
  "$KILN" --root "$T/store" unpack big "$T/b" || fail unpack
  assert_eq "$(stat -c %s "$T/b/rootfs/blob")" $((96 << 20))
}

run_tests
