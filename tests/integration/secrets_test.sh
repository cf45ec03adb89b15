#!/usr/bin/env bash
# Secrets (issue 7): the store (permissions, binary values, size limit, never printing a value),
# `kiln run --secret` both ways in detached containers, no trace of the value outside the store
# (kiln root, /run, /tmp, kiln's debug log), the secret tmpfs gone after rm, and `kiln scan` /
# the `kiln load` warning on an image with planted secrets (one deleted by a later layer).
source "$(dirname "$0")/lib.sh"
FIX=$TOP/tests/fixtures

# Every test: its own store and run root, a busybox image named bb.
setup() {
  export KILN_ROOT=$T/store KILN_RUN_ROOT=$T/runroot
  busybox_rootfs "$T/rootfs"
  mkdir -p "$T/rootfs/run"
  tar -C "$T/rootfs" --numeric-owner -czf "$T/rootfs.tar.gz" .
  "$KILN" import "$T/rootfs.tar.gz" bb > /dev/null || fail "import busybox"
  VALUE="v-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"  # random, unlikely anywhere
  printf '%s' "$VALUE" | "$KILN" secret create s1 - > /dev/null || fail "secret create"
}
K() { "$KILN" --debug --log "$T/kiln.log" "$@"; }
# Every file under the given dirs that holds $VALUE (skipping /proc), except the store's.
value_found_in() {
  grep -rlF --binary-files=text --exclude-dir=proc -e "$VALUE" "$@" 2>/dev/null | grep -vxF "$KILN_ROOT/secrets/values/s1"
}
# Detached tmpfs mounts never appear in the host's mount table.
secret_mounts() { grep -c ' /run/secrets ' /proc/self/mountinfo; }

test_store_permissions_and_metadata() {
  setup
  local st; st=$(stat -c '%a %U' "$KILN_ROOT/secrets" "$KILN_ROOT/secrets/values" "$KILN_ROOT/secrets/values/s1" | sort -u | tr '\n' ' ')
  assert_eq "$st" "600 root 700 root "
  local out; out=$("$KILN" secret ls); assert_contains "$out" "s1"; assert_not_contains "$out" "$VALUE"
  out=$("$KILN" secret inspect s1); assert_not_contains "$out" "$VALUE"
  assert_eq "$(echo "$out" | jq -r '.[0].Name,.[0].Size')" "$(printf 's1\n%s' ${#VALUE})"
  assert_eq "$(cat "$KILN_ROOT/secrets/values/s1")" "$VALUE"
  [ -z "$(value_found_in "$KILN_ROOT")" ] || fail "value outside the store: $(value_found_in "$KILN_ROOT")"
}

test_create_from_file_binary_and_limits() {
  setup
  head -c 1000 /dev/urandom > "$T/bin"; printf '\0\377\n' >> "$T/bin"
  "$KILN" secret create bin "$T/bin" > /dev/null || fail "create from file"
  cmp "$T/bin" "$KILN_ROOT/secrets/values/bin" || fail "binary value changed"
  head -c 524288 /dev/zero | tr '\0' a > "$T/max"
  "$KILN" secret create max "$T/max" > /dev/null || fail "512 KiB is allowed"
  head -c 524289 /dev/zero | tr '\0' a > "$T/big"
  local out; out=$("$KILN" secret create big - < "$T/big" 2>&1); assert_eq $? 125
  assert_contains "$out" "larger than 512 KiB"
  out=$("$KILN" secret create s1 "$T/bin" 2>&1); assert_eq $? 125; assert_contains "$out" "secret s1 already exists"
  out=$("$KILN" secret create ../x "$T/bin" 2>&1); assert_eq $? 125; assert_contains "$out" "invalid secret name"
  out=$("$KILN" secret create e /dev/null 2>&1); assert_eq $? 125; assert_contains "$out" "empty value"
  "$KILN" secret rm bin > /dev/null || fail "rm"
  [ ! -e "$KILN_ROOT/secrets/values/bin" ] || fail "value file left after rm"
  out=$("$KILN" secret rm bin 2>&1); assert_eq $? 1; assert_contains "$out" "secret bin not found"
  assert_not_contains "$("$KILN" secret ls -q)" "bin"
}

test_bad_secret_flags_start_nothing() {
  setup
  local out
  out=$("$KILN" run -d --secret nosuch bb sleep 100 2>&1); assert_eq $? 125; assert_contains "$out" "secret nosuch not found"
  out=$("$KILN" run -d --secret s1,type=foo bb sleep 100 2>&1); assert_eq $? 125
  assert_contains "$out" "--secret s1,type=foo: type must be env or mount"
  out=$("$KILN" run -d --env-file "$T/missing.env" bb sleep 100 2>&1); assert_eq $? 125; assert_contains "$out" "$T/missing.env"
  assert_eq "$("$KILN" ps -a -q | wc -l)" 0 "no container may be left"
}

test_run_env_secret() {
  setup
  local id; id=$(K run -d --secret s1,type=env,target=DB_PW bb sleep 100) || fail "run: $(tail -3 "$T/kiln.log")"
  assert_eq "$("$KILN" exec "$id" sh -c 'printf %s "$DB_PW"' | md5sum)" "$(printf %s "$VALUE" | md5sum)" "env secret"
  local out; out=$("$KILN" inspect "$id"); assert_not_contains "$out" "$VALUE"
  assert_eq "$(echo "$out" | jq -r '.[0].secrets[0].target // .[0].Secrets[0].target')" '$DB_PW'
  assert_not_contains "$("$KILN" ps -a --no-trunc 2>/dev/null || "$KILN" ps -a)" "$VALUE"
  local found; found=$(value_found_in "$KILN_ROOT" /run /tmp "$T")
  [ -z "$found" ] || fail "value found outside the store: $found"
  "$KILN" rm -f "$id" > /dev/null
}

test_run_mount_secret_no_trace_and_gone_after_rm() {
  setup
  local before; before=$(secret_mounts)
  local id; id=$(K run -d --secret s1 --secret s1,target=other,mode=0440,uid=1000,gid=1000 bb sleep 100) \
    || fail "run: $(tail -3 "$T/kiln.log")"
  assert_eq "$("$KILN" exec "$id" cat /run/secrets/s1 | md5sum)" "$(printf %s "$VALUE" | md5sum)" "mounted secret"
  assert_eq "$("$KILN" exec "$id" stat -c '%a %u %g' /run/secrets/s1)" "400 0 0"
  assert_eq "$("$KILN" exec "$id" stat -c '%a %u %g' /run/secrets/other)" "440 1000 1000"
  local opts; opts=$("$KILN" exec "$id" grep ' /run/secrets ' /proc/mounts)
  for o in ro nosuid nodev noexec; do assert_contains "$opts" "$o" "mount option $o"; done
  "$KILN" exec "$id" sh -c 'echo x > /run/secrets/s1' 2>/dev/null && fail "secret file writable"
  assert_eq "$(secret_mounts)" "$before" "the secrets tmpfs must not be in the host's mount table"
  local found; found=$(value_found_in "$KILN_ROOT" /run /tmp "$T")
  [ -z "$found" ] || fail "value found outside the store: $found"
  # The tmpfs is referenced by the container's mount namespace only: gone with the container.
  local pid; pid=$("$KILN" inspect "$id" | jq -r '.[0].State.Pid')
  local dev; dev=$(grep ' /run/secrets ' "/proc/$pid/mountinfo" | awk '{print $3}')
  [ -n "$dev" ] || fail "no /run/secrets in the container's mountinfo"
  "$KILN" rm -f "$id" > /dev/null || fail "rm -f"
  for p in /proc/[0-9]*; do grep -qs " $dev / " "$p/mountinfo" && fail "secrets tmpfs $dev still mounted in ${p#/proc/}"; done
  return 0
}

test_run_mount_secret_read_only_root() {
  setup
  local id; id=$(K run -d --read-only --secret s1 bb sleep 100) || fail "run --read-only: $(tail -3 "$T/kiln.log")"
  assert_eq "$("$KILN" exec "$id" cat /run/secrets/s1 | md5sum)" "$(printf %s "$VALUE" | md5sum)"
  "$KILN" rm -f "$id" > /dev/null
}

test_env_flag_and_env_file_keep_values_off_argv() {
  setup
  printf '# c\n\nFROM_FILE=%s\nFROM_ENV\n' "$VALUE" > "$T/e.env"
  local id; id=$(FROM_ENV=$VALUE TOKEN=$VALUE K run -d -e TOKEN --env-file "$T/e.env" bb sleep 100) || fail run
  local out; out=$("$KILN" exec "$id" sh -c 'echo "$TOKEN|$FROM_FILE|$FROM_ENV"')
  assert_eq "$out" "$VALUE|$VALUE|$VALUE"
  assert_not_contains "$("$KILN" inspect "$id")" "$VALUE"
  rm -f "$T/e.env"
  local found; found=$(value_found_in "$KILN_ROOT" /run "$T")
  [ -z "$found" ] || fail "value found outside the store: $found"
  "$KILN" rm -f "$id" > /dev/null
}

# An image with planted secrets: layer 1 = busybox + /root/.ssh/id_rsa (PEM) + .aws/credentials,
# layer 2 deletes id_rsa (a whiteout), config Env DB_PASSWORD=x.
make_secret_image() {
  local r=$T/l1
  busybox_rootfs "$r"
  mkdir -p "$r/root/.ssh" "$r/root/.aws"
  printf -- '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n' > "$r/root/.ssh/id_rsa"
  printf '[default]\naws_access_key_id = AKIA\naws_secret_access_key = zz\n' > "$r/root/.aws/credentials"
  tar -C "$r" --numeric-owner -cf "$T/layer1.tar" .
  mkdir -p "$T/l2/root/.ssh"; : > "$T/l2/root/.ssh/.wh.id_rsa"
  tar -C "$T/l2" --numeric-owner -cf "$T/layer2.tar" .
  umoci init --layout "$T/oci" && umoci new --image "$T/oci:planted" || fail umoci
  umoci raw add-layer --image "$T/oci:planted" "$T/layer1.tar" || fail "umoci layer 1"
  umoci raw add-layer --image "$T/oci:planted" "$T/layer2.tar" || fail "umoci layer 2"
  umoci config --image "$T/oci:planted" --config.env DB_PASSWORD=x --config.env PATH=/bin || fail "umoci config"
}

test_scan_finds_planted_secrets() {
  export KILN_ROOT=$T/store
  make_secret_image
  local err; err=$("$KILN" load -q -i "$T/oci" --name planted 2>&1 >/dev/null)
  assert_contains "$err" "warning: possible secret"
  assert_contains "$err" "/root/.ssh/id_rsa"
  local out; out=$("$KILN" scan planted); assert_eq $? 1 "scan exits 1 on findings"
  assert_contains "$out" "config Env DB_PASSWORD: env"
  assert_contains "$out" "/root/.ssh/id_rsa: ssh-private-key" "a file deleted by a later layer is still found"
  assert_contains "$out" "/root/.aws/credentials: aws-credentials"
  assert_not_contains "$out" "BEGIN OPENSSH"; assert_not_contains "$out" "aws_secret"
  out=$("$KILN" scan --json planted) || true
  assert_eq "$(echo "$out" | jq -r '.findings[] | select(.path=="/root/.ssh/id_rsa") | "\(.layer) \(.kind) \(.diff_id|startswith("sha256:"))"')" "0 ssh-private-key true"
  assert_eq "$(echo "$out" | jq -r '.findings[] | select(.source=="config") | .path')" "Env DB_PASSWORD"
  # The merged view has no id_rsa: it is found because every layer is scanned on its own.
  "$KILN" unpack planted "$T/bundle" > /dev/null && [ ! -e "$T/bundle/rootfs/root/.ssh/id_rsa" ] || fail "whiteout not applied"
}

test_scan_clean_busybox() {
  export KILN_ROOT=$T/store
  busybox_rootfs "$T/rootfs"
  tar -C "$T/rootfs" --numeric-owner -czf "$T/rootfs.tar.gz" .
  "$KILN" import "$T/rootfs.tar.gz" clean > /dev/null || fail import
  local out; out=$("$KILN" scan clean) || fail "scan of a clean image exits $?: $out"
  assert_contains "$out" "no secrets found"
  assert_eq "$("$KILN" scan --json clean | jq '.findings | length')" 0
}

run_tests
