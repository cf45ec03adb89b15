#!/usr/bin/env bash
# kiln pull against a real registry (Debian's docker-registry: distribution 2.8) started by each
# test on 127.0.0.1, filled with skopeo. Nothing else is ever contacted: short names resolve
# through a registries.conf the test writes, naming only that registry.
. "$(dirname "$0")/lib.sh"
FIX=$TOP/tests/fixtures
IMAGES=$(bash "$FIX/build-images.sh") || { echo "fixture build failed" >&2; exit 1; }

# start_registry [tls] [htpasswd]: a registry on a free 127.0.0.1 port, storage under
# $T/registry; sets REG. tls: a self-signed certificate made here, trusted through
# $KILN_CERTS_DIR/HOST:PORT/ca.crt (certs.d's layout; skopeo reads the same dir). htpasswd:
# user alice, password pw-Hq7 (bcrypt, Debian's apache2-utils). Requests are in $T/registry.log
# (the registry's access log: one '"METHOD /v2/... HTTP/1.1" STATUS' line each).
start_registry() {
  local port i scheme=http tls="" auth=""
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  if [[ " $* " == *" tls "* ]]; then
    scheme=https
    mkdir -p "$T/certs/127.0.0.1:$port"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
      -keyout "$T/registry.key" -out "$T/certs/127.0.0.1:$port/ca.crt" 2>/dev/null || fail "openssl certificate"
    tls="tls: {certificate: $T/certs/127.0.0.1:$port/ca.crt, key: $T/registry.key}"
    export KILN_CERTS_DIR=$T/certs
  fi
  if [[ " $* " == *" htpasswd "* ]]; then
    htpasswd -Bbn alice pw-Hq7 > "$T/htpasswd" 2>/dev/null || fail "htpasswd"
    auth="auth: {htpasswd: {realm: kiln-test, path: $T/htpasswd}}"
  fi
  cat > "$T/registry.yml" <<YML
version: 0.1
log: {level: error, accesslog: {disabled: false}}
storage: {filesystem: {rootdirectory: $T/registry}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$port${tls:+, $tls}}
$auth
YML
  docker-registry serve "$T/registry.yml" > "$T/registry.log" 2>&1 &
  echo $! > "$T/registry.pid"
  trap stop_registry EXIT
  for i in $(seq 50); do
    curl -sS -k -m 1 -o /dev/null "$scheme://127.0.0.1:$port/v2/" 2>/dev/null && break
    sleep 0.1
  done
  curl -sS -k -m 1 -o /dev/null "$scheme://127.0.0.1:$port/v2/" || fail "registry did not start: $(cat "$T/registry.log")"
  REG=127.0.0.1:$port
  export KILN_ROOT=$T/store KILN_RUN_ROOT=$T/run
}
# requests METHOD PATTERN: how many requests the registry logged so far of that method whose
# path matches the (grep -E) pattern.
requests() { grep -cE "\"$1 /v2/[^ ]*$2" "$T/registry.log"; }
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
  # a store with another image in it: after the failed pull, the same files, the same records
  "$KILN" import "$IMAGES/rootfs.tar.gz" other:1 >/dev/null || fail import
  before=$(cd "$KILN_ROOT" && find . -path ./tmp -prune -o -print | sort | md5sum; cat "$KILN_ROOT"/images/*.json | md5sum)
  out=$("$KILN" pull --tls-verify=false "$REG/test/multi:1" 2>&1); rc=$?
  assert_eq $rc 125 "exit status of a tampered pull"
  assert_contains "$out" "digest mismatch"
  assert_eq "$(cd "$KILN_ROOT" && find . -path ./tmp -prune -o -print | sort | md5sum; cat "$KILN_ROOT"/images/*.json | md5sum)" "$before" "the store after a tampered pull"
  "$KILN" rmi other:1 >/dev/null || fail rmi
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
  python3 "$TOP/tests/integration/bearer_proxy.py" "$port" "$upstream" alice 'pw-Zq81xK' 'tok-93hfQ0' > "$T/proxy.log" 2>&1 &
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
  # push through the same token dance: the token asked for allows pull and push; the image
  # was pulled from test/private here, so its blobs are mounted from there, not sent
  "$KILN" load -q -i "$IMAGES/oci" --name local:multi >/dev/null || fail load
  out=$("$KILN" --debug push --tls-verify=false local:multi "127.0.0.1:$port/test/mine:1" 2>&1) || fail "push with a token: $out"
  assert_contains "$out" "0 blob(s) sent (0 in chunks), 4 mounted, 0 already there"
  grep -q '^token for repository:test/mine:pull,push$' "$T/proxy.log" || fail "no push token asked for: $(cat "$T/proxy.log")"
  # an image the registry has nothing of: its layer in chunks, through the token front
  "$KILN" import "$IMAGES/rootfs.tar.gz" rootfs:1 >/dev/null || fail import
  out2=$("$KILN" push --tls-verify=false --chunk-size 65536 rootfs:1 "127.0.0.1:$port/test/rootfs:1" 2>&1) || fail "chunked push with a token: $out2"
  assert_contains "$out2" "2 blob(s) sent (1 in chunks)"
  out="$out $out2"
  for secret in pw-Zq81xK tok-93hfQ0 "$(printf 'alice:pw-Zq81xK' | base64)"; do
    assert_not_contains "$out" "$secret" "a credential in kiln push's output"
  done
  assert_eq "$(skopeo inspect --tls-verify=false --raw "docker://$REG/test/mine:1" | jq -r .config.digest)" \
    "$("$KILN" inspect local:multi | jq -r '.[0].Id')" "pushed through the token front"
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

# kiln push: every blob HEADed first, small ones in one PUT, big ones in PATCHed chunks, the
# manifest last; skopeo copies the image back and it is the same image (same digests).
test_push_then_skopeo_copies_back_the_same_image() {
  start_registry
  "$KILN" load -q -i "$IMAGES/oci" --name local:multi >/dev/null || fail load
  id=$("$KILN" inspect local:multi | jq -r '.[0].Id')
  out=$("$KILN" push --tls-verify=false --chunk-size 65536 local:multi "$REG/test/pushed:1" 2>"$T/err") || fail "push: $(cat "$T/err")"
  digest=$out
  assert_contains "$(cat "$T/err")" "4 blob(s) sent"
  chunked=$(grep -o '([0-9]* in chunks)' "$T/err" | tr -dc 0-9)
  [ "$chunked" -ge 1 ] && [ "$chunked" -lt 4 ] || fail "both kinds of upload: $chunked of 4 in chunks ($(cat "$T/err"))"
  [ "$(requests PATCH /blobs/uploads/)" -gt "$chunked" ] || fail "a chunked upload takes several PATCHes"
  [ "$(requests HEAD /blobs/sha256:)" -ge 4 ] || fail "every blob HEADed first"
  # the manifest came last: after every blob upload closed
  last_blob=$(grep -nE '"PUT /v2/[^ ]*/blobs/uploads/' "$T/registry.log" | tail -1 | cut -d: -f1)
  manifest=$(grep -nE '"PUT /v2/[^ ]*/manifests/' "$T/registry.log" | head -1 | cut -d: -f1)
  [ "$manifest" -gt "$last_blob" ] || fail "the manifest was not pushed last"
  skopeo copy -q --src-tls-verify=false "docker://$REG/test/pushed:1" "oci:$T/back:x" || fail "skopeo copy back"
  assert_eq "$(jq -r '.manifests[0].digest' "$T/back/index.json")" "$digest" "manifest digest skopeo got"
  assert_eq "$(jq -r .config.digest "$T/back/blobs/sha256/${digest#sha256:}")" "$id" "config digest"
  assert_eq "$(jq -c '[.layers[].digest]' "$T/back/blobs/sha256/${digest#sha256:}")" \
    "$(jq -c '[.layers[].digest]' "$IMAGES/oci/blobs/sha256/$(jq -r '.manifests[] | select(.annotations."org.opencontainers.image.ref.name"=="multi") | .digest' "$IMAGES/oci/index.json" | cut -d: -f2)")" "layer digests"
  # a second push sends no blob: HEAD finds each, only the manifest goes again
  uploads=$(requests POST /blobs/uploads/)
  "$KILN" push --tls-verify=false local:multi "$REG/test/pushed:1" >/dev/null 2>"$T/err" || fail "second push"
  assert_contains "$(cat "$T/err")" "0 blob(s) sent (0 in chunks), 0 mounted, 4 already there"
  assert_eq "$(requests POST /blobs/uploads/)" "$uploads" "upload sessions on a second push"
  # to another repository of the same registry: blobs are mounted from where the image's name
  # says they are, not sent again
  "$KILN" tag local:multi "$REG/test/pushed:1" || fail tag
  "$KILN" push --tls-verify=false "$REG/test/pushed:1" "$REG/other/copy:2" >/dev/null 2>"$T/err" || fail "push to another repo: $(cat "$T/err")"
  assert_contains "$(cat "$T/err")" "0 blob(s) sent (0 in chunks), 4 mounted"
  assert_eq "$(requests POST '/blobs/uploads/\?mount=')" 4 "mount requests"
  assert_eq "$(skopeo inspect --tls-verify=false --raw "docker://$REG/other/copy:2" | sha256sum | cut -d' ' -f1)" "${digest#sha256:}"
  # IMAGE alone: its own name says where
  "$KILN" push -q --tls-verify=false "$REG/test/pushed:1" >/dev/null || fail "push by the image's name"
  out=$("$KILN" push --tls-verify=false local:multi 2>&1); [ $? -eq 125 ] || fail "push without a registry"
  assert_contains "$out" "name the registry"
  out=$("$KILN" push --tls-verify=false local:multi "$REG/test/x@sha256:$(printf %064d 0)" 2>&1); [ $? -eq 125 ] || fail "push to a digest"
  assert_contains "$out" "not a digest"
  # the image kiln pushed runs when pulled into another store
  KILN_ROOT=$T/store2 "$KILN" pull -q --tls-verify=false "$REG/other/copy:2" >/dev/null || fail "pull of the pushed image"
  want=$("$KILN" run --rm local:multi -c 'id -un; ls -R /data | md5sum')
  assert_eq "$(KILN_ROOT=$T/store2 "$KILN" run --rm "$REG/other/copy:2" -c 'id -un; ls -R /data | md5sum')" "$want" "pushed image runs"
  stop_registry
}

# The registry as it is usually deployed: TLS with a certificate of its own (trusted through
# certs.d) and htpasswd users. kiln logs in, pushes and pulls without --tls-verify=false.
test_tls_registry_with_htpasswd_login_push_pull() {
  start_registry tls htpasswd
  export XDG_RUNTIME_DIR=$T/xdg
  "$KILN" load -q -i "$IMAGES/oci" --name local:multi >/dev/null || fail load
  out=$("$KILN" push local:multi "$REG/team/app:1" 2>&1); [ $? -eq 125 ] || fail "push without credentials"
  assert_contains "$out" "authentication required (kiln login $REG)"
  out=$(printf 'wrong\n' | "$KILN" login -u alice --password-stdin "$REG" 2>&1); [ $? -eq 125 ] || fail "a wrong password was accepted"
  assert_contains "$out" "credentials refused"
  [ ! -e "$T/xdg/containers/auth.json" ] || fail "a refused login was stored"
  printf 'pw-Hq7\n' | "$KILN" login -u alice --password-stdin "$REG" >/dev/null || fail login
  digest=$("$KILN" push local:multi "$REG/team/app:1" 2>"$T/err") || fail "push over TLS: $(cat "$T/err")"
  assert_contains "$(cat "$T/err")" "4 blob(s) sent"
  skopeo copy -q --src-cert-dir "$T/certs/$REG" --src-creds alice:pw-Hq7 "docker://$REG/team/app:1" "oci:$T/back:x" || fail "skopeo copy back"
  assert_eq "$(jq -r '.manifests[0].digest' "$T/back/index.json")" "$digest" "manifest digest skopeo got"
  out=$("$KILN" pull "$REG/team/app:1" 2>&1) || fail "pull over TLS: $out"
  assert_contains "$out" "0 layer(s) fetched"
  assert_not_contains "$out" "pw-Hq7"
  # the certificate is what makes it trusted: without certs.d it is refused
  out=$(KILN_CERTS_DIR=$T/nowhere "$KILN" pull "$REG/team/app:1" 2>&1); [ $? -eq 125 ] || fail "an untrusted certificate was accepted"
  assert_contains "$out" "registry $REG"
  ! grep -rqF pw-Hq7 "$KILN_ROOT" || fail "the password in the store"
  "$KILN" logout "$REG" >/dev/null || fail logout
  stop_registry
}

# A skopeo-pushed multi-layer, multi-arch image (an index over two different manifests, one per
# platform): kiln pulls the host's, --platform picks the other, and one that is not there is
# an error listing what is.
test_multi_arch_push_by_skopeo_pull_each_platform() {
  start_registry
  cp -a "$IMAGES/oci" "$T/ma"
  umoci config --image "$T/ma:multi" --tag arm --config.env ARCH=arm64 --architecture arm64 >/dev/null || fail "umoci config"
  umoci config --image "$T/ma:multi" --tag amd --config.env ARCH=amd64 --architecture amd64 >/dev/null || fail "umoci config"
  desc() { jq -c --arg t "$1" '.manifests[] | select(.annotations."org.opencontainers.image.ref.name"==$t) | del(.annotations)' "$T/ma/index.json"; }
  idx=$(jq -n -c --argjson a "$(desc arm)" --argjson b "$(desc amd)" '{schemaVersion:2, mediaType:"application/vnd.oci.image.index.v1+json",
    manifests:[($a + {platform:{os:"linux",architecture:"arm64"}}), ($b + {platform:{os:"linux",architecture:"amd64"}})]}')
  hex=$(printf '%s' "$idx" | sha256sum | cut -d' ' -f1)
  printf '%s' "$idx" > "$T/ma/blobs/sha256/$hex"
  jq --arg h "sha256:$hex" --argjson s "${#idx}" '.manifests += [{mediaType:"application/vnd.oci.image.index.v1+json", digest:$h, size:$s, annotations:{"org.opencontainers.image.ref.name":"ma"}}]' \
    "$T/ma/index.json" > "$T/ma/i" && mv "$T/ma/i" "$T/ma/index.json"
  skopeo copy -q --all --dest-tls-verify=false "oci:$T/ma:ma" "docker://$REG/test/ma:1" || fail "skopeo push --all"
  "$KILN" pull -q --platform linux/amd64 --tls-verify=false "$REG/test/ma:1" >/dev/null || fail "pull amd64"
  assert_eq "$("$KILN" run --rm "$REG/test/ma:1" -c 'echo $ARCH')" amd64 "the amd64 manifest was pulled"
  "$KILN" pull -q --platform linux/arm64 --tls-verify=false "$REG/test/ma:1" >/dev/null 2>"$T/err" || fail "pull arm64: $(cat "$T/err")"
  assert_eq "$("$KILN" inspect "$REG/test/ma:1" | jq -r '.[0].Config.Env[] | select(startswith("ARCH="))')" ARCH=arm64 "--platform picked the other"
  # the digest kept is the one the tag named: the index's
  assert_contains "$("$KILN" images --digests | grep "$REG/test/ma ")" "sha256:$hex"
  assert_eq "$("$KILN" inspect "$REG/test/ma:1" | jq -r '.[0].RepoDigests[0]')" "$REG/test/ma@sha256:$hex"
  # by digest: the index's digest is checked, and the image is the same
  "$KILN" pull -q --platform linux/arm64 --tls-verify=false "$REG/test/ma@sha256:$hex" >/dev/null || fail "pull by index digest"
  out=$("$KILN" pull --tls-verify=false --platform linux/riscv64 "$REG/test/ma:1" 2>&1); [ $? -eq 125 ] || fail "no riscv64"
  assert_contains "$out" "no image for linux/riscv64 (the index has linux/arm64, linux/amd64)"
  # a second pull asks for manifests only: no blob is fetched
  blobs=$(requests GET /blobs/)
  out=$("$KILN" pull --platform linux/arm64 --tls-verify=false "$REG/test/ma:1" 2>&1) || fail "second pull: $out"
  assert_contains "$out" "0 layer(s) fetched"
  assert_eq "$(requests GET /blobs/)" "$blobs" "blob GETs of a second pull"
  stop_registry
}

# start_fault_proxy MODE [N]: fault_proxy.py in front of $REG; sets PROXY.
start_fault_proxy() {
  local port i
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  python3 "$TOP/tests/integration/fault_proxy.py" "$port" "${REG#127.0.0.1:}" "$@" > "$T/faults.log" 2>&1 &
  echo $! > "$T/proxy.pid"
  trap 'kill $(cat "$T/proxy.pid") 2>/dev/null; wait $(cat "$T/proxy.pid") 2>/dev/null; stop_registry' EXIT
  for i in $(seq 50); do curl -s -m 1 -o /dev/null "http://127.0.0.1:$port/v2/" && break; sleep 0.1; done
  PROXY=127.0.0.1:$port
}
stop_fault_proxy() { kill "$(cat "$T/proxy.pid")" 2>/dev/null; wait "$(cat "$T/proxy.pid")" 2>/dev/null; }

# 429 and 5xx are retried (bounded, with pauses); a registry that stays down, and a download cut
# short, fail with one line and leave the store as it was.
test_retries_bounded_and_truncated_download() {
  start_registry
  push "oci:$IMAGES/oci:multi" test/multi:1
  start_fault_proxy flaky 4
  out=$("$KILN" --debug pull --tls-verify=false "$PROXY/test/multi:1" 2>&1) || fail "pull through a flaky registry: $out"
  assert_contains "$out" "answered 503; retrying"
  assert_contains "$out" "answered 429; retrying"
  assert_eq "$(grep -c '^fault' "$T/faults.log")" 4 "faults injected"
  stop_fault_proxy
  "$KILN" load -q -i "$IMAGES/oci" --name local:multi >/dev/null || fail load
  start_fault_proxy flaky 6
  out=$("$KILN" --debug push --tls-verify=false --chunk-size 65536 local:multi "$PROXY/test/pushed:1" 2>&1) || fail "push through a flaky registry: $out"
  assert_eq "$(grep -c '^fault' "$T/faults.log")" 6 "faults injected into the push"
  grep -q '^fault [0-9]* PATCH ' "$T/faults.log" || fail "no chunk of the push was refused: $(cat "$T/faults.log")"
  stop_fault_proxy
  assert_eq "$(skopeo inspect --tls-verify=false --raw "docker://$REG/test/pushed:1" | jq -r .config.digest)" \
    "$("$KILN" inspect local:multi | jq -r '.[0].Id')" "pushed through faults"
  export KILN_ROOT=$T/store-down
  start_fault_proxy down
  out=$("$KILN" pull --tls-verify=false "$PROXY/test/multi:1" 2>&1); rc=$?
  assert_eq $rc 125 "a registry that stays down"
  assert_contains "$out" "UNAVAILABLE: injected"
  # 4 retries of the first blob request, then it gives up
  assert_eq "$(grep -c '^fault' "$T/faults.log")" 5 "bounded retries"
  assert_eq "$("$KILN" images -q | grep -c .)" 0 "no image after a failed pull"
  stop_fault_proxy
  export KILN_ROOT=$T/store-cut
  start_fault_proxy truncate
  out=$("$KILN" pull --tls-verify=false "$PROXY/test/multi:1" 2>&1); rc=$?
  assert_eq $rc 125 "a truncated download"
  assert_contains "$out" "registry $PROXY: GET"
  assert_eq "$("$KILN" images -q | grep -c .)" 0 "no image after a truncated download"
  assert_eq "$(ls "$KILN_ROOT/tmp" 2>/dev/null | grep -c .)" 0 "no temporary layout left"
  stop_fault_proxy
  stop_registry
}

# registries.conf [[registry]] tables: insecure allows plain HTTP without --tls-verify=false,
# location serves a namespace from elsewhere (the store keeps the name asked for), blocked refuses.
test_registries_conf_tables_insecure_location_blocked() {
  start_registry
  push "oci:$IMAGES/oci:multi" test/multi:1
  printf '[[registry]]\nlocation = "%s"\ninsecure = true\n\n[[registry]]\nprefix = "mirror.test/team"\nlocation = "%s/test"\ninsecure = true\n' "$REG" "$REG" > "$T/reg.conf"
  export CONTAINERS_REGISTRIES_CONF=$T/reg.conf
  "$KILN" pull -q "$REG/test/multi:1" >/dev/null || fail "pull from an insecure registry without --tls-verify=false"
  "$KILN" push -q "$REG/test/multi:1" "$REG/test/again:1" >/dev/null || fail "push to an insecure registry"
  out=$("$KILN" pull mirror.test/team/multi:1 2>&1) || fail "pull through a location: $out"
  assert_contains "$("$KILN" images)" "mirror.test/team/multi"
  assert_eq "$("$KILN" inspect mirror.test/team/multi:1 | jq -r '.[0].Id')" "$("$KILN" inspect "$REG/test/multi:1" | jq -r '.[0].Id')" "the same image"
  printf '[[registry]]\nlocation = "%s"\nblocked = true\n' "$REG" > "$T/reg.conf"
  out=$("$KILN" pull --tls-verify=false "$REG/test/multi:1" 2>&1); [ $? -eq 125 ] || fail "a blocked registry was pulled from"
  assert_contains "$out" "$REG/test/multi: registry $REG is blocked in $T/reg.conf"
  out=$("$KILN" push --tls-verify=false "$REG/test/multi:1" 2>&1); [ $? -eq 125 ] || fail "a blocked registry was pushed to"
  assert_contains "$out" "is blocked in $T/reg.conf"
  printf '[[registry]]\ninsecure = "yes"\nlocation = "x"\n' > "$T/reg.conf"
  out=$("$KILN" pull --tls-verify=false "$REG/test/multi:1" 2>&1); [ $? -eq 125 ] || fail "a malformed registries.conf"
  assert_contains "$out" "registries.conf $T/reg.conf: [[registry]] insecure is not true or false"
  stop_registry
}

# Layers download in parallel (the proxy holds each layer GET until another is in flight; one
# at a time, none would ever see a second), and a terminal gets a progress bar per layer.
test_layers_download_in_parallel_with_progress_bars() {
  start_registry
  push "oci:$IMAGES/oci:multi" test/multi:1
  start_fault_proxy overlap
  out=$("$KILN" pull --tls-verify=false "$PROXY/test/multi:1" 2>&1) || fail "pull: $out"
  assert_contains "$out" "3 layer(s) fetched"
  max=$(sed -n 's/^inflight //p' "$T/faults.log" | sort -n | tail -1)
  [ "$max" -ge 2 ] && [ "$max" -le 3 ] || fail "blob GETs in flight at once: $max (want 2..3): $(cat "$T/faults.log")"
  stop_fault_proxy
  # on a terminal (script gives kiln a pty): a bar per layer, redrawn in place
  export KILN_ROOT=$T/store-tty
  script -qec "$KILN pull --tls-verify=false $REG/test/multi:1" /dev/null > "$T/tty.out" 2>&1 < /dev/null || fail "pull on a pty: $(cat "$T/tty.out")"
  grep -q $'\e\\[K' "$T/tty.out" || fail "no progress bars on a terminal: $(cat -v "$T/tty.out")"
  assert_eq "$(grep -aoE 'layer [0-9]/3 sha256:[0-9a-f]{12} \[=+\] +[0-9.]+/[0-9.]+ MB done' "$T/tty.out" | sort -u | cut -c1-9 | sort -u | grep -c .)" 3 "a finished bar per layer"
  # not a terminal: plain lines, no escapes
  export KILN_ROOT=$T/store-plain
  "$KILN" pull --tls-verify=false "$REG/test/multi:1" > "$T/plain.out" 2>&1 || fail "plain pull"
  ! grep -q $'\e' "$T/plain.out" || fail "escapes in plain output"
  assert_eq "$(grep -c '^layer [0-9]/3 sha256:' "$T/plain.out")" 3 "a plain line per layer"
  stop_registry
}

# hold_pull MODE: a pull through the proxy in MODE (hold, hold-tamper, hold-cut), in the
# background (PULL_PID, output in $T/pull.out), waited on until the big layer's download is
# held half-way and files of it are unpacked in a staging dir (tmp/*/layer-N/diff); sets
# HELD_SIZE to the blob's size.
hold_pull() {
  local i n=0
  rm -f "$T/release"
  start_fault_proxy "$1" "$T/release"
  "$KILN" pull --tls-verify=false "$PROXY/test/multi:1" > "$T/pull.out" 2>&1 &
  PULL_PID=$!
  for i in $(seq 100); do grep -q '^held ' "$T/faults.log" && break; sleep 0.1; done
  grep -q '^held ' "$T/faults.log" || fail "no download was held: $(cat "$T/faults.log" "$T/pull.out")"
  HELD_SIZE=$(sed -n 's/^held GET [^ ]* //p' "$T/faults.log" | head -1)
  for i in $(seq 100); do
    n=$(find "$KILN_ROOT/tmp" -path '*/layer-*/diff/*' ! -type d 2>/dev/null | wc -l)
    [ "$n" -gt 0 ] && break
    sleep 0.1
  done
  [ "$n" -gt 0 ] || fail "nothing unpacked while the download is held half-way"
}

# A layer is unpacked while it downloads: with the registry holding the big layer half-way,
# its files are already in a staging dir, no full copy of the blob exists anywhere in the
# store (the blob file kept beside the unpack has what has arrived), and nothing is published.
test_layers_unpack_while_they_stream() {
  start_registry
  push "oci:$IMAGES/oci:multi" test/multi:1
  hold_pull hold
  [ -z "$(find "$KILN_ROOT" -type f -size "${HELD_SIZE}c")" ] || fail "a full copy of the held $HELD_SIZE-byte blob exists"
  part=$(find "$KILN_ROOT/tmp" -path '*/layer-*.blob' -type f -printf '%s\n' | sort -n | tail -1)
  [ "$part" -gt 0 ] && [ "$part" -lt "$HELD_SIZE" ] || fail "the blob being written has $part of $HELD_SIZE bytes"
  assert_eq "$("$KILN" images -q | grep -c .)" 0 "an image before its pull finished"
  touch "$T/release"
  wait "$PULL_PID" || fail "pull: $(cat "$T/pull.out")"
  assert_contains "$(cat "$T/pull.out")" "3 layer(s) fetched"
  assert_eq "$(ls "$KILN_ROOT/tmp" | grep -c .)" 0 "staging dirs left after the pull"
  stop_fault_proxy
  "$KILN" load -q -i "$IMAGES/oci" --name local:multi >/dev/null || fail "load"
  want=$("$KILN" run --rm local:multi -c 'id -un; ls -lR /data /bin | md5sum')
  assert_eq "$("$KILN" run --rm "$PROXY/test/multi:1" -c 'id -un; ls -lR /data /bin | md5sum')" "$want" "the streamed image's files"
  stop_registry
}

# Hostile streams: the big layer tampered with, or cut off, after half of it was unpacked. The
# pull fails naming why, and the store is as it was: no staging dir, no layer (not even the
# small layers that were published meanwhile), no blob, no image.
test_tampered_or_cut_layer_mid_stream_leaves_no_staging_dir_and_no_layer() {
  start_registry
  push "oci:$IMAGES/oci:multi" test/multi:1
  "$KILN" import "$IMAGES/rootfs.tar.gz" other:1 >/dev/null || fail import
  before=$(cd "$KILN_ROOT" && find . -path ./tmp -prune -o -print | sort | md5sum; cat "$KILN_ROOT"/images/*.json | md5sum)
  for mode in hold-tamper hold-cut; do
    hold_pull $mode
    touch "$T/release"
    wait "$PULL_PID"; rc=$?
    assert_eq $rc 125 "exit status of a pull with $mode"
    grep -q "^fault ${mode#hold-}" "$T/faults.log" || fail "$mode: no fault injected: $(cat "$T/faults.log")"
    if [ $mode = hold-tamper ]; then assert_contains "$(cat "$T/pull.out")" "digest mismatch"
    else assert_contains "$(cat "$T/pull.out")" "registry $PROXY: GET"; fi
    assert_eq "$(ls "$KILN_ROOT/tmp" | grep -c .)" 0 "$mode: staging dirs left"
    assert_eq "$(cd "$KILN_ROOT" && find . -path ./tmp -prune -o -print | sort | md5sum; cat "$KILN_ROOT"/images/*.json | md5sum)" "$before" "the store after $mode"
    stop_fault_proxy
  done
  stop_registry
}

# A pull killed mid-stream leaves its staging dir (nothing can remove it at SIGKILL); the next
# pull removes it (its pid is gone) and completes, with the same files as a load.
test_pull_killed_mid_stream_is_cleaned_up_by_the_next() {
  start_registry
  push "oci:$IMAGES/oci:multi" test/multi:1
  hold_pull hold
  kill -KILL "$PULL_PID"; wait "$PULL_PID" 2>/dev/null
  [ "$(ls "$KILN_ROOT/tmp" | grep -c .)" -gt 0 ] || fail "the killed pull left no staging dir (was it killed mid-stream?)"
  assert_eq "$("$KILN" images -q | grep -c .)" 0 "an image from a killed pull"
  touch "$T/release"
  stop_fault_proxy
  "$KILN" pull -q --tls-verify=false "$REG/test/multi:1" >/dev/null || fail "pull after a killed one"
  assert_eq "$(ls "$KILN_ROOT/tmp" | grep -c .)" 0 "the killed pull's staging dir after the next pull"
  "$KILN" load -q -i "$IMAGES/oci" --name local:multi >/dev/null || fail "load"
  want=$("$KILN" run --rm local:multi -c 'ls -lR /data /bin | md5sum')
  assert_eq "$("$KILN" run --rm "$REG/test/multi:1" -c 'ls -lR /data /bin | md5sum')" "$want" "the image pulled after a killed pull"
  stop_registry
}

run_tests
