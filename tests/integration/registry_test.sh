#!/usr/bin/env bash
# kiln pull against a real registry (Debian's docker-registry: distribution 2.8) started by each
# test on 127.0.0.1, filled with skopeo. Nothing else is ever contacted: short names resolve
# through a registries.conf the test writes, naming only that registry.
. "$(dirname "$0")/lib.sh"
FIX=$TOP/tests/fixtures
IMAGES=$(bash "$FIX/build-images.sh") || { echo "fixture build failed" >&2; exit 1; }

# start_registry: a registry on a free 127.0.0.1 port, storage under $T/registry; sets REG.
start_registry() {
  local port i
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cat > "$T/registry.yml" <<YML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $T/registry}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$port}
YML
  docker-registry serve "$T/registry.yml" > "$T/registry.log" 2>&1 &
  echo $! > "$T/registry.pid"
  trap stop_registry EXIT
  for i in $(seq 50); do
    curl -fsS -m 1 "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break
    sleep 0.1
  done
  curl -fsS -m 1 "http://127.0.0.1:$port/v2/" >/dev/null || fail "registry did not start: $(cat "$T/registry.log")"
  REG=127.0.0.1:$port
  export KILN_ROOT=$T/store KILN_RUN_ROOT=$T/run
}
stop_registry() {
  [ -s "$T/registry.pid" ] || return 0
  kill "$(cat "$T/registry.pid")" 2>/dev/null; wait "$(cat "$T/registry.pid")" 2>/dev/null
  rm -f "$T/registry.pid"
  return 0
}
push() { skopeo copy -q --dest-tls-verify=false "$1" "docker://$REG/$2" || fail "skopeo push $2"; }
layers_in_store() { ls "$KILN_ROOT/layers" 2>/dev/null | grep -c .; }

test_pull_run_and_pull_again() {
  start_registry
  push "oci:$IMAGES/oci:multi" test/multi:1
  out=$("$KILN" pull --tls-verify=false "$REG/test/multi:1" 2>"$T/err") || fail "pull: $(cat "$T/err")"
  assert_contains "$(cat "$T/err")" "3 layer(s) fetched"
  assert_contains "$("$KILN" images)" "$REG/test/multi"
  # the same files as a load of the same image (layer 3 of the fixture)
  "$KILN" load -q -i "$IMAGES/oci" --name local:multi >/dev/null || fail "load"
  # (the fixture's entrypoint is /bin/sh, its user "user", its workdir /data)
  want=$("$KILN" run --rm local:multi -c 'id -un; pwd; ls -R /data | md5sum')
  assert_eq "$("$KILN" run --rm "$REG/test/multi:1" -c 'id -un; pwd; ls -R /data | md5sum')" "$want" "pulled image's config and files"
  n=$(layers_in_store)
  "$KILN" pull --tls-verify=false "$REG/test/multi:1" >/dev/null 2>"$T/err" || fail "second pull"
  assert_contains "$(cat "$T/err")" "0 layer(s) fetched" "a layer in the store is not fetched again"
  assert_eq "$(layers_in_store)" "$n"
  # by digest: the manifest's digest is checked too
  digest=$(skopeo inspect --tls-verify=false --raw "docker://$REG/test/multi:1" | sha256sum | cut -d' ' -f1)
  "$KILN" pull -q --tls-verify=false "$REG/test/multi@sha256:$digest" >/dev/null || fail "pull by digest"
  out=$("$KILN" pull --tls-verify=false "$REG/test/multi@sha256:$(printf %064d 0)" 2>&1); [ $? -eq 125 ] || fail "unknown digest"
  assert_contains "$out" "not found"
  # kiln run pulls what is missing (--pull=missing, podman's default), never with --pull=never
  push "oci:$IMAGES/oci:multi" test/other:1
  out=$("$KILN" run --rm --pull=never "$REG/test/other:1" true 2>&1); [ $? -eq 125 ] || fail "--pull=never pulled"
  assert_contains "$out" "image $REG/test/other:1 not found"
  assert_eq "$("$KILN" run --rm --tls-verify=false "$REG/test/other:1" -c 'echo ran' 2>/dev/null)" ran "run of a missing image"
  stop_registry
}

test_multi_arch_index_picks_the_platform() {
  start_registry
  # an index naming the fixture's manifest for two platforms
  cp -a "$IMAGES/oci" "$T/ma"
  desc=$(jq -c '.manifests[] | select(.annotations."org.opencontainers.image.ref.name"=="multi") | del(.annotations)' "$T/ma/index.json")
  idx=$(jq -n -c --argjson d "$desc" '{schemaVersion:2, mediaType:"application/vnd.oci.image.index.v1+json",
    manifests:[($d + {platform:{os:"linux",architecture:"arm64",variant:"v8"}}), ($d + {platform:{os:"linux",architecture:"amd64"}})]}')
  hex=$(printf '%s' "$idx" | sha256sum | cut -d' ' -f1)
  printf '%s' "$idx" > "$T/ma/blobs/sha256/$hex"
  jq --arg h "sha256:$hex" --argjson s "${#idx}" '.manifests += [{mediaType:"application/vnd.oci.image.index.v1+json", digest:$h, size:$s, annotations:{"org.opencontainers.image.ref.name":"ma"}}]' \
    "$T/ma/index.json" > "$T/ma/i" && mv "$T/ma/i" "$T/ma/index.json"
  skopeo copy -q --all --dest-tls-verify=false "oci:$T/ma:ma" "docker://$REG/test/ma:1" || fail "push index"
  "$KILN" pull -q --tls-verify=false "$REG/test/ma:1" > /dev/null || fail "pull of an index"
  out=$("$KILN" pull --tls-verify=false --platform linux/s390x "$REG/test/ma:1" 2>&1); [ $? -eq 125 ] || fail "no s390x"
  assert_contains "$out" "no image for linux/s390x (the index has linux/arm64/v8, linux/amd64)"
  stop_registry
}

test_tampered_blob_and_bad_registries_leave_the_store_as_it_was() {
  start_registry
  push "oci:$IMAGES/oci:multi" test/multi:1
  # flip a byte of the largest layer blob in the registry's storage
  blob=$(find "$T/registry" -path '*/blobs/sha256/*/data' -size +100k | head -1)
  [ -n "$blob" ] || fail "no layer blob in the registry"
  printf 'X' | dd of="$blob" bs=1 seek=1000 conv=notrunc status=none
  out=$("$KILN" pull --tls-verify=false "$REG/test/multi:1" 2>&1); rc=$?
  assert_eq $rc 125 "exit status of a tampered pull"
  assert_contains "$out" "digest mismatch"
  assert_eq "$("$KILN" images -q 2>/dev/null | grep -c .)" 0 "no image after a tampered pull"
  assert_eq "$(ls "$KILN_ROOT/tmp" 2>/dev/null | grep -c .)" 0 "no temporary layout left"
  stop_registry
  out=$("$KILN" pull --tls-verify=false "$REG/test/multi:1" 2>&1); rc=$?
  assert_eq $rc 125 "unreachable registry"
  assert_contains "$out" "registry $REG:"
  # TLS is the default: the plain-http registry is refused, never silently downgraded
  start_registry
  out=$("$KILN" pull "$REG/test/none:1" 2>&1); [ $? -eq 125 ] || fail "http registry accepted without --tls-verify=false"
  assert_contains "$out" "registry $REG"
  stop_registry
}

# Bearer tokens as Docker Hub and GHCR hand them out: the token server takes the user's
# password (from auth.json, podman's file) and gives a token; neither ever shows in kiln's
# output, even with --debug, nor in the store.
test_bearer_token_auth_and_credentials_never_shown() {
  start_registry
  push "oci:$IMAGES/oci:multi" test/private:1
  upstream=${REG#127.0.0.1:}
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  python3 "$TOP/tests/integration/bearer_proxy.py" "$port" "$upstream" alice 'pw-Zq81xK' 'tok-93hfQ0' &
  echo $! > "$T/proxy.pid"
  trap 'kill $(cat "$T/proxy.pid") 2>/dev/null; stop_registry' EXIT
  for i in $(seq 50); do curl -s -m 1 -o /dev/null "http://127.0.0.1:$port/v2/" && break; sleep 0.1; done
  out=$("$KILN" pull --tls-verify=false "127.0.0.1:$port/test/private:1" 2>&1); [ $? -eq 125 ] || fail "pull without credentials"
  assert_contains "$out" "registry 127.0.0.1:$port: authentication required (kiln login 127.0.0.1:$port)"
  # kiln login checks the password with the registry first: a wrong one is not kept
  export XDG_RUNTIME_DIR=$T/xdg
  out=$(printf 'wrong\n' | "$KILN" login -u alice --password-stdin --tls-verify=false "127.0.0.1:$port" 2>&1)
  [ $? -eq 125 ] || fail "a wrong password was accepted"
  [ ! -e "$T/xdg/containers/auth.json" ] || fail "a refused login was stored"
  printf 'pw-Zq81xK\n' | "$KILN" login -u alice --password-stdin --tls-verify=false "127.0.0.1:$port" >/dev/null || fail login
  assert_eq "$(stat -c %a "$T/xdg/containers/auth.json")" 600 "auth.json mode"
  out=$("$KILN" --debug pull --tls-verify=false "127.0.0.1:$port/test/private:1" 2>&1) || fail "pull with a token: $out"
  assert_contains "$out" "got a bearer token"
  for secret in pw-Zq81xK tok-93hfQ0 "$(printf 'alice:pw-Zq81xK' | base64)"; do
    assert_not_contains "$out" "$secret" "a credential in kiln's output"
    ! grep -rqF "$secret" "$KILN_ROOT" || fail "a credential in the store"
  done
  "$KILN" logout "127.0.0.1:$port" >/dev/null || fail logout
  assert_eq "$(jq -c .auths "$T/xdg/containers/auth.json")" "{}" "logout removed the entry"
  out=$("$KILN" logout "127.0.0.1:$port" 2>&1); [ $? -eq 125 ] || fail "second logout"
  assert_contains "$out" "not logged in"
}

test_tag_names_an_image_twice() {
  export KILN_ROOT=$T/store KILN_RUN_ROOT=$T/run
  "$KILN" load -q -i "$IMAGES/oci" --name local:multi >/dev/null || fail load
  "$KILN" tag local:multi 127.0.0.1:5000/team/app:7 || fail tag
  out=$("$KILN" images)
  assert_contains "$out" "127.0.0.1:5000/team/app"
  assert_contains "$out" "local"
  assert_eq "$("$KILN" inspect 127.0.0.1:5000/team/app:7 | jq -c '.[0] | [.Id, .RepoTags]')" \
    "$("$KILN" inspect local:multi | jq -c '.[0] | [.Id, .RepoTags]')" "one image, two names"
  assert_eq "$("$KILN" inspect local:multi | jq -r '.[0].RepoTags | length')" 2
  out=$("$KILN" tag local:multi 'Bad Name' 2>&1); [ $? -eq 125 ] || fail "bad name accepted"
  assert_contains "$out" "invalid image name"
  out=$("$KILN" tag nope:1 x:1 2>&1); [ $? -eq 125 ] || fail "missing source accepted"
  assert_contains "$out" "image nope:1 not found"
}

test_short_names_resolve_through_registries_conf() {
  start_registry
  push "oci:$IMAGES/oci:multi" team/app:2
  printf '# test\n' > "$T/none.conf"
  out=$(CONTAINERS_REGISTRIES_CONF=$T/none.conf "$KILN" pull --tls-verify=false team/app:2 2>&1); [ $? -eq 125 ] || fail "short name with no search registries"
  assert_contains "$out" "short name \"team/app:2\": no unqualified-search-registries in $T/none.conf"
  printf 'unqualified-search-registries = ["%s"]\n' "$REG" > "$T/reg.conf"
  CONTAINERS_REGISTRIES_CONF=$T/reg.conf "$KILN" pull -q --tls-verify=false team/app:2 >/dev/null || fail "short name"
  assert_contains "$("$KILN" images)" "$REG/team/app"
  stop_registry
}

run_tests
