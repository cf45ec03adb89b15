#!/usr/bin/env bash
# kiln build: real builds as root from a busybox image imported into a per-test store (RUN steps
# are kiln containers, --network none: no internet), then kiln run / podman load of the result.
# Every test checks that nothing is left: no build container state, no mounts under $T, no temp
# dirs in the store, no cgroups (lib.sh).
. "$(dirname "$0")/lib.sh"
FIX=$TOP/tests/fixtures
IMAGES=$(bash "$FIX/build-images.sh") || { echo "fixture build failed" >&2; exit 1; }

setup() {
  export KILN_ROOT=$T/store KILN_RUN_ROOT=$T/run
  "$KILN" import "$IMAGES/rootfs.tar.gz" busybox:latest >/dev/null || fail "import busybox"
  mkdir -p "$T/ctx"
}
kb() { "$KILN" build --network none "$@"; }
# Nothing of any build left: runtime state, container dirs, store temp dirs, mounts.
assert_clean() {
  [ -z "$(ls "$KILN_RUN_ROOT/runtime" 2>/dev/null | grep -v seccomp-cache)" ] || fail "runtime state left: $(ls "$KILN_RUN_ROOT/runtime")"
  [ -z "$(ls "$KILN_ROOT/containers" 2>/dev/null | grep -v '^\.init$')" ] || fail "container dirs left"
  [ -z "$(ls "$KILN_ROOT/tmp" 2>/dev/null | grep -v seccomp-cache)" ] || fail "store temp left: $(ls "$KILN_ROOT/tmp")"
  ! grep -qF "$T" /proc/self/mountinfo || fail "mounts left: $(grep -F "$T" /proc/self/mountinfo)"
}
image_names() { "$KILN" images | awk 'NR>1 {print $1 ":" $2}'; }

# The listing leaves out the files RUN steps make: ls shows their times (now, to the minute), so
# two builds on either side of a minute would differ in a file's content, not in what kiln does.
write_multistage() {
  cd "$T/ctx" || exit 1
  echo one > a.txt; echo two > b.txt; echo skip > c.log; mkdir -p keep; echo k > keep/k.txt
  echo ignored > secret.env
  printf 'secret.env\n*.log\n' > .dockerignore
  cat > Dockerfile <<'DF'
# syntax=docker/dockerfile:1
ARG BASE=busybox
FROM $BASE AS tools
ARG WHO=world
ENV GREETING="hello ${WHO}" \
    EMPTY=
WORKDIR /src
COPY --chown=1000:100 --chmod=0640 *.txt ./
COPY keep /src/keep/
RUN <<EOF
set -e
echo "$GREETING" > /src/greeting
mkdir -p /out/bin && cp /bin/busybox /out/bin/busybox
ln -s busybox /out/bin/sh
EOF
RUN ls -ln /src | grep -v -e ' greeting$' -e ' listing$' > /tmp/listing && mv /tmp/listing /src/listing && id -u > /src/uid-root
USER 1000:100
RUN id -u > /tmp/uid-user && pwd > /tmp/pwd

FROM scratch
COPY --from=tools /out/bin /bin/
COPY --from=tools /src/greeting /src/listing /tmp/uid-user /tmp/pwd /info/
WORKDIR /info
USER 1000
ENV PATH=/bin
CMD ["sh", "-c", "cat greeting uid-user pwd; pwd; id -u"]
DF
}

test_multistage_into_scratch_runs() {
  setup; write_multistage
  out=$(kb -t app:1 --build-arg WHO=kiln . 2>"$T/progress") || fail "build: $(cat "$T/progress")"
  assert_contains "$out" "sha256:"
  assert_contains "$(cat "$T/progress")" "naming to app:1"
  run=$("$KILN" run --rm app:1) || fail "run: $run"
  assert_eq "$run" "$(printf 'hello kiln\n1000\n/src\n/info\n1000')" "ARG/ENV expansion, USER, WORKDIR, heredoc"
  listing=$("$KILN" run --rm app:1 busybox cat /info/listing)
  # the glob took a.txt and b.txt (c.log and secret.env are .dockerignored), owned 1000:100, mode 0640
  assert_contains "$listing" "-rw-r-----    1 1000     100              4 Jan  1  1970 a.txt"
  assert_contains "$listing" "b.txt"
  assert_contains "$listing" "keep"
  assert_not_contains "$listing" "c.log"
  assert_not_contains "$listing" "secret.env"
  # the final image has only what the last stage copied: no /src, no /etc of busybox
  assert_status 1 "$KILN" run --rm app:1 sh -c 'test -e /src || test -e /etc/passwd'
  assert_clean
}

test_rebuild_all_cached_then_only_changed_step() {
  setup; write_multistage
  id1=$(kb -t app:1 . 2>"$T/p1") || fail "build 1: $(cat "$T/p1")"
  id2=$(kb -t app:1 . 2>"$T/p2") || fail "build 2: $(cat "$T/p2")"
  assert_eq "$id2" "$id1" "an unchanged rebuild gives the same image id"
  steps=$(grep -cE '^#[0-9]+ \[' "$T/p2"); cached=$(grep -cE '^#[0-9]+ CACHED$' "$T/p2")
  assert_eq "$cached" "$steps" "every step CACHED on an unchanged rebuild"
  # change what the LAST step copies: only that step is redone
  echo 'COPY last.dat /info/' >> Dockerfile
  echo v1 > last.dat
  kb -t app:2 . >/dev/null 2>"$T/p3" || fail "build 3: $(cat "$T/p3")"
  echo v2 > last.dat
  id4=$(kb -t app:2 . 2>"$T/p4") || fail "build 4: $(cat "$T/p4")"
  steps=$(grep -cE '^#[0-9]+ \[' "$T/p4"); cached=$(grep -cE '^#[0-9]+ CACHED$' "$T/p4")
  assert_eq "$cached" "$((steps - 1))" "only the changed COPY is redone"
  last=$(grep -E '^#[0-9]+ \[' "$T/p4" | tail -1 | awk '{print $1}')
  grep -qE "^$last DONE" "$T/p4" || fail "the last step was not the one redone: $(cat "$T/p4")"
  assert_eq "$("$KILN" run --rm app:2 busybox cat /info/last.dat)" "v2"
  [ "$id4" != "$id1" ] || fail "a changed file must give another image"
  # --no-cache redoes everything and still gives the same bytes
  id5=$(kb --no-cache -t app:2 . 2>"$T/p5") || fail "build 5"
  assert_eq "$(grep -cE '^#[0-9]+ CACHED$' "$T/p5")" "$(grep -cE '^#[0-9]+ \[[^]]*1/' "$T/p5")" "--no-cache: only FROM lines say CACHED"
  assert_eq "$id5" "$id4" "--no-cache gives identical layers and config"
  assert_clean
}

test_progress_plain_and_tty() {
  setup; cd "$T/ctx" || fail cd
  printf 'FROM busybox\nRUN echo from-the-run-step\nCOPY f /f\n' > Dockerfile; echo x > f
  kb --progress plain -t p:1 . >/dev/null 2>"$T/plain" || fail "plain build: $(cat "$T/plain")"
  grep -qE '^#2 \[2/3\] RUN echo from-the-run-step$' "$T/plain" || fail "plain step line: $(cat "$T/plain")"
  grep -qE '^#2 [0-9.]+ from-the-run-step$' "$T/plain" || fail "plain output line: $(cat "$T/plain")"
  grep -qE '^#2 DONE [0-9.]+s$' "$T/plain" || fail "plain DONE line: $(cat "$T/plain")"
  # tty (forced: stderr is a file here): each step's line ends with CACHED or its time, on the same line
  kb --progress tty -t p:1 . >/dev/null 2>"$T/tty" || fail "tty build: $(cat "$T/tty")"
  esc=$'\033'
  grep -qF "${esc}[K" "$T/tty" || fail "tty mode redraws its lines"
  sed "s/${esc}\[[0-9;]*[mK]//g; s/\r/\n/g" "$T/tty" > "$T/tty.txt"
  grep -qE '^#2 \[2/3\] RUN echo from-the-run-step  CACHED$' "$T/tty.txt" || fail "tty CACHED on the step's line: $(cat "$T/tty.txt")"
  printf 'FROM busybox\nRUN echo about-to-fail; exit 3\n' > Dockerfile
  out=$(kb --progress tty . 2>&1 >/dev/null); rc=$?
  assert_eq "$rc" 1 "a failing RUN"
  grep -q '^kiln: ' <<<"$(sed "s/${esc}\[[0-9;]*[mK]//g" <<<"$out")" || fail "the error starts its own line: $out"
  assert_contains "$out" "   about-to-fail" "RUN output under its step"
  assert_status 125 "$KILN" build --progress xml .
  assert_clean
}

test_two_stores_identical_digests() {
  setup; write_multistage
  id1=$(kb -q . 2>&1) || fail "build 1: $id1"
  export KILN_ROOT=$T/store2
  "$KILN" import "$IMAGES/rootfs.tar.gz" busybox:latest >/dev/null || fail "import 2"
  sleep 1  # a second later: times must not leak into layers or config
  id2=$(kb -q . 2>&1) || fail "build 2: $id2"
  assert_eq "$id2" "$id1" "same Dockerfile and context, fresh store: same image digest"
  id3=$(SOURCE_DATE_EPOCH=1700000000 kb -q . 2>&1) || fail "build 3"
  [ "$id3" != "$id1" ] || fail "SOURCE_DATE_EPOCH must set the times"
  assert_clean
}

test_secret_mount_never_stored() {
  setup; cd "$T/ctx" || exit 1
  VALUE="s3cr3t-$RANDOM$RANDOM-value"
  printf '%s' "$VALUE" > "$T/token"
  cat > Dockerfile <<'DF'
FROM busybox
RUN --mount=type=secret,id=tok test "$(cat /run/secrets/tok | wc -c)" -gt 10 && echo file-seen
RUN --mount=type=secret,id=tok,env=TOKEN test -n "$TOKEN" && test ! -e /run/secrets/tok && echo env-seen
RUN --mount=type=secret,id=tok,target=/run/secrets/other cp /run/secrets/other /copied
RUN test ! -e /run/secrets/tok && echo gone-after
DF
  out=$("$KILN" --debug --log "$T/kiln.log" build --network none --secret id=tok,src="$T/token" -t sec:1 . 2>&1) ||
    fail "build: $out"
  assert_contains "$out" "file-seen"
  assert_contains "$out" "env-seen"
  assert_contains "$out" "gone-after"
  # A step that copies the secret bakes it into ITS layer (the pitfall itself): a RUN can read it.
  assert_eq "$("$KILN" run --rm sec:1 cat /copied)" "$VALUE" "a RUN can read the secret"
  "$KILN" rmi sec:1 >/dev/null || fail "rmi"
  rm -rf "$KILN_ROOT/build-cache"
  "$KILN" rmi busybox >/dev/null && "$KILN" import "$IMAGES/rootfs.tar.gz" busybox:latest >/dev/null  # collects
  ! grep -rqF "$VALUE" "$KILN_ROOT" || fail "rmi left the copied secret: $(grep -rlF "$VALUE" "$KILN_ROOT")"
  # without the copying step the value is in no layer, config, history, cache key or log
  sed -i '/copied/d' Dockerfile
  export VALUE_ENV=$VALUE
  out=$("$KILN" --debug --log "$T/kiln2.log" build --network none --secret id=tok,src="$T/token" --secret id=e,env=VALUE_ENV -t sec:2 . 2>&1) ||
    fail "build 2: $out"
  unset VALUE_ENV
  assert_not_contains "$out" "$VALUE" "build output"
  ! grep -rqF "$VALUE" "$KILN_ROOT" || fail "the secret is in the store: $(grep -rlF "$VALUE" "$KILN_ROOT")"
  ! grep -rqF "$VALUE" "$KILN_RUN_ROOT" 2>/dev/null || fail "the secret is in the run root"
  ! grep -qF "$VALUE" "$T/kiln2.log" || fail "the secret is in the log"
  for b in "$KILN_ROOT"/blobs/sha256/*; do
    if tar tf "$b" >/dev/null 2>&1; then
      ! tar xOf "$b" 2>/dev/null | grep -qF "$VALUE" || fail "the secret is in layer $b"
      ! tar tf "$b" | grep -q 'run/secrets/tok' || fail "a secret file is in layer $b"
    fi
  done
  hist=$("$KILN" history sec:2 2>&1); assert_not_contains "$hist" "$VALUE" "history"
  assert_contains "$hist" "id=tok"
  assert_not_contains "$("$KILN" inspect sec:2 2>&1)" "$VALUE" "inspect"
  assert_clean
}

test_secret_unknown_id_and_cache_mount() {
  setup; cd "$T/ctx" || exit 1
  printf 'FROM busybox\nRUN --mount=type=secret,id=nope cat /run/secrets/nope\n' > Dockerfile
  out=$(kb -t bad:1 . 2>&1); rc=$?
  assert_eq $rc 125 "unknown secret id"
  assert_contains "$out" "no secret nope was given"
  assert_not_contains "$(image_names)" "bad"
  # a cache mount keeps its files across builds, outside the image
  printf 'FROM busybox\nARG N\nRUN --mount=type=cache,target=/var/cache/x echo $N >> /var/cache/x/runs && wc -l < /var/cache/x/runs > /count\n' > Dockerfile
  kb -t c:1 --build-arg N=1 . >/dev/null 2>&1 || fail "cache build 1"
  kb -t c:2 --build-arg N=2 . >/dev/null 2>&1 || fail "cache build 2"
  assert_eq "$("$KILN" run --rm c:2 cat /count)" "2" "the cache dir kept the first build's file"
  assert_eq "$("$KILN" run --rm c:2 ls /var/cache/x)" "" "the cache's files are not in the image"
  assert_clean
}

test_save_loads_into_podman() {
  command -v podman >/dev/null || fail "podman missing (tests/install-deps.sh)"
  setup; write_multistage
  id=$(kb -q -t localhost/app:saved . 2>&1) || fail "build: $id"
  "$KILN" save -o "$T/app.tar" localhost/app:saved || fail "save docker-archive"
  "$KILN" save --format oci-archive -o "$T/app-oci.tar" localhost/app:saved || fail "save oci-archive"
  assert_status 125 "$KILN" save --format zip -o "$T/x.tar" localhost/app:saved
  [ ! -e "$T/x.tar" ] || fail "a refused save left a file"
  mkdir -p "$T/p/tmp" "$T/p/net"
  cat > "$T/p/containers.conf" <<EOF
[containers]
netns = "none"
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$T/p/events.log"
tmp_dir = "$T/p/tmp"
volume_path = "$T/p/volumes"
runtime_supports_json = ["crun", "runc", "kiln-runtime"]
[network]
network_config_dir = "$T/p/net"
EOF
  printf '[storage]\ndriver = "overlay"\nrunroot = "%s/p/runroot"\ngraphroot = "%s/p/root"\n' "$T" "$T" > "$T/p/storage.conf"
  export CONTAINERS_CONF=$T/p/containers.conf CONTAINERS_STORAGE_CONF=$T/p/storage.conf TMPDIR=$T/p/tmp
  p() { timeout 60 podman --root "$T/p/root" --runroot "$T/p/runroot" --runtime "$KR" "$@"; }
  p load -q -i "$T/app.tar" >/dev/null || fail "podman load docker-archive"
  pid=$(p images -q --no-trunc localhost/app:saved)
  assert_eq "${pid#sha256:}" "${id#sha256:}" "podman has the same image id"
  out=$(p run --rm --cgroup-parent="/$ID" localhost/app:saved 2>&1) || fail "podman run: $out"
  assert_eq "$out" "$(printf 'hello world\n1000\n/src\n/info\n1000')" "podman runs kiln's image"
  p rmi -af >/dev/null 2>&1
  p load -q -i "$T/app-oci.tar" >/dev/null || fail "podman load oci-archive"
  out=$(p run --rm --cgroup-parent="/$ID" localhost/app:saved busybox cat /info/greeting 2>&1) || fail "podman run oci: $out"
  assert_eq "$out" "hello world"
  p rm -af >/dev/null 2>&1; p rmi -af >/dev/null 2>&1
  for _ in $(seq 50); do pgrep -f "$T/p" >/dev/null || break; sleep 0.1; done  # conmon exits after rm
  grep -F "$T/p" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l 2>/dev/null
  for d in /sys/fs/cgroup/*/"$ID"/conmon /sys/fs/cgroup/*/"$ID"; do [ -d "$d" ] && rmdir "$d" 2>/dev/null; done
  assert_clean
}

# Each bad input: one clear line, its exit status, no tag, nothing left.
bad_build() { # bad_build STATUS TEXT
  local want=$1 text=$2 out rc
  out=$(kb -t bad:1 . 2>&1); rc=$?
  assert_eq $rc "$want" "status for: $text"
  assert_contains "$out" "$text"
  assert_not_contains "$(image_names)" "bad:1" "a failed build tags nothing"
  assert_clean
}

test_bad_input() {
  setup; cd "$T/ctx" || exit 1
  printf 'FROM busybox\nRUN <<EOF\necho never closed\n' > Dockerfile
  bad_build 125 'kiln: Dockerfile:2: heredoc <<EOF is not terminated (expected a line "EOF")'
  printf 'FROM busybox\n\nFROBNICATE x\n' > Dockerfile
  bad_build 125 'kiln: Dockerfile:3: unknown instruction FROBNICATE'
  printf 'FROM busybox\nONBUILD RUN true\n' > Dockerfile
  bad_build 125 'Dockerfile:2: ONBUILD is not supported'
  printf 'FROM no-such-image:9\n' > Dockerfile
  bad_build 125 'Dockerfile:1: FROM: image no-such-image:9 is not in the store'
  printf 'FROM busybox\nCOPY ../outside /x\n' > Dockerfile
  bad_build 125 'Dockerfile:2: COPY: ../outside: outside the build context'
  printf 'FROM busybox\nCOPY missing.txt /x\n' > Dockerfile
  bad_build 125 'Dockerfile:2: COPY: missing.txt: no such file or directory in the build context'
  printf 'FROM busybox\nRUN echo first line; echo last words; exit 3\nRUN echo never\n' > Dockerfile
  out=$(kb -t bad:1 . 2>&1); rc=$?
  assert_eq $rc 1 "a failing RUN exits 1"
  assert_contains "$out" " > last words"
  assert_contains "$out" "Dockerfile:2: RUN: /bin/sh -c echo first line; echo last words; exit 3: exit status 3"
  assert_not_contains "$out" "never"
  assert_not_contains "$(image_names)" "bad:1"
  assert_clean
  # a symlink in the context is copied as a symlink, never followed out of the context
  ln -sf /etc/shadow "$T/ctx/escape"
  printf 'FROM busybox\nCOPY escape /x\n' > Dockerfile
  kb -t sym:1 . >/dev/null 2>&1 || fail "a symlink is copied as a symlink"
  assert_eq "$("$KILN" run --rm sym:1 readlink /x)" "/etc/shadow"
  printf 'FROM busybox\nRUN true\n' > Dockerfile
  out=$(kb -t bad:1 --target nope . 2>&1); assert_contains "$out" "--target nope: no stage of that name"
  out=$(kb -t ok:1 --build-arg UNUSED=1 . 2>&1) || fail "an unused build arg is a warning: $out"
  assert_contains "$out" "warning: build arg UNUSED was given but no ARG declares it"
  assert_clean
}

test_add_tar_unpacks_and_target_stops() {
  setup; cd "$T/ctx" || exit 1
  mkdir -p t/d && echo inside > t/d/f && tar -C t -czf files.tgz d && rm -rf t
  cat > Dockerfile <<'DF'
FROM busybox AS first
ADD files.tgz /opt/
RUN cat /opt/d/f > /first
FROM first AS second
RUN false
DF
  kb -t tgt:1 --target first . >/dev/null 2>"$T/p" || fail "build --target first: $(cat "$T/p")"
  assert_eq "$("$KILN" run --rm tgt:1 cat /first)" "inside" "ADD unpacked the local tar"
  assert_not_contains "$(cat "$T/p")" "RUN false" "--target stops before later stages"
  assert_clean
}

test_pitfall_warnings_and_lint() {
  setup; cd "$T/ctx" || exit 1
  echo 'API_KEY=ctx-secret-value' > .env
  echo code > main.sh
  cat > Dockerfile <<'DF'
FROM busybox
ENV API_TOKEN=env-secret-value
COPY . /app
RUN mkdir -p /root/.ssh /var/lib/apt/lists && P=PRIVATE && printf -- "-----BEGIN OPENSSH $P KEY-----\nkey-secret-body\n-----END OPENSSH $P KEY-----\n" > /root/.ssh/deploy_key && dd if=/dev/zero of=/big bs=1k count=200 2>/dev/null && dd if=/dev/zero of=/var/lib/apt/lists/x_Packages bs=1k count=50 2>/dev/null
RUN rm /root/.ssh/deploy_key /big
DF
  out=$(kb -t pit:1 . 2>&1) || fail "build with pitfalls still builds: $out"
  assert_contains "$out" "warning: Dockerfile:2: ENV: API_TOKEN looks like a credential"
  assert_contains "$out" "warning: Dockerfile:3: COPY: copies /app/.env, which kiln scan flags (dotenv)"
  assert_contains "$out" "warning: Dockerfile:4: RUN: writes /root/.ssh/deploy_key (private-key) and Dockerfile:5: RUN deletes it"
  assert_contains "$out" "warning: Dockerfile:4: RUN: adds /big (205kB) and Dockerfile:5: RUN deletes it"
  assert_contains "$out" "warning: Dockerfile:4: RUN: leaves the apt package lists (/var/lib/apt/lists, 51.2kB)"
  warn=$(grep 'warning:' <<<"$out")  # (the progress echoes the Dockerfile's lines, as docker's does)
  for v in env-secret-value ctx-secret-value key-secret-body; do assert_not_contains "$warn" "$v" "a warning shows a value"; done
  # the per-layer size table, and history with sizes and steps
  assert_contains "$out" "LAYER    SIZE"
  assert_contains "$out" "(base image)"
  assert_contains "$(grep -E '^[0-9]+ ' <<<"$out" | grep 'Dockerfile:4')" "262kB"
  hist=$("$KILN" history pit:1) || fail "history"
  assert_contains "$(grep 'RUN /bin/sh -c mkdir' <<<"$hist")" "262kB"
  assert_contains "$(grep 'COPY' <<<"$hist")" "B "
  # a cached rebuild warns the same
  out2=$(kb -t pit:1 . 2>&1) || fail "rebuild"
  assert_eq "$(grep -c 'warning:' <<<"$out2")" "$(grep -c 'warning:' <<<"$out")" "the same warnings when cached"
  assert_contains "$out2" "CACHED  Dockerfile:4"
  # kiln lint: exit 1 on findings, 0 when clean, 125 when it cannot lint
  lint=$("$KILN" lint Dockerfile); assert_eq $? 1 "lint exit status with findings"
  assert_contains "$lint" "Dockerfile:2: ENV: API_TOKEN"
  assert_contains "$lint" "Dockerfile:3: COPY: copies /.env from the context"
  assert_eq "$("$KILN" lint --json "$T/ctx/Dockerfile" | jq -r '.findings[].rule' | sort -u | tr '\n' ' ')" "secret-copied secret-env "
  printf 'FROM busybox AS b\nCOPY main.sh /\nFROM busybox\nCOPY --from=b /main.sh /\nCMD ["sh", "/main.sh"]\n' > Dockerfile.clean
  out=$("$KILN" lint Dockerfile.clean); assert_eq $? 0 "lint exit status when clean: $out"
  assert_status 125 "$KILN" lint nosuch/Dockerfile
  printf 'FROM busybox\nBOGUS x\n' > Dockerfile.bad
  assert_status 125 "$KILN" lint Dockerfile.bad
  out=$(kb -t clean:1 -f Dockerfile.clean . 2>&1) || fail "clean build: $out"
  assert_not_contains "$out" "warning:" "no warnings on a clean multi-stage build"
  assert_clean
}

test_image_prune_keeps_what_images_use() {
  setup; cd "$T/ctx" || exit 1
  printf 'FROM busybox\nRUN echo keep > /keep\nRUN echo keep2 > /keep2\n' > Dockerfile
  kb -t keep:1 . >/dev/null 2>&1 || fail "build keep"
  printf 'FROM busybox\nRUN dd if=/dev/zero of=/junk bs=1k count=300 2>/dev/null\nRUN echo gone > /gone\n' > Dockerfile.junk
  kb -t junk:1 -f Dockerfile.junk . >/dev/null 2>&1 || fail "build junk"
  "$KILN" rmi junk:1 >/dev/null || fail "rmi junk"
  layers_before=$(ls "$KILN_ROOT/layers" | wc -l)
  assert_eq "$layers_before" 5 "busybox + 2 kept + 2 cache-only layers"
  # a running container of the kept image: its layers must survive
  cid=$("$KILN" run -d keep:1 sh -c 'trap "exit 0" TERM; while true; do sleep 0.1; done') || fail "run -d: $cid"
  out=$("$KILN" image prune) || fail "prune: $out"
  assert_contains "$out" "Deleted 2 build cache entries and 2 layers"  # junk's two RUNs
  assert_contains "$out" "Total reclaimed space: "
  assert_eq "$(ls "$KILN_ROOT/layers" | wc -l)" 3 "the cache-only layers went, the image's stayed"
  assert_eq "$("$KILN" exec "$cid" cat /keep2)" "keep2" "the running container still reads its layers"
  "$KILN" rm -f "$cid" >/dev/null || fail "rm -f"
  assert_eq "$("$KILN" run --rm keep:1 cat /keep /keep2)" "$(printf 'keep\nkeep2')"
  # the kept image's steps are still cached; the pruned ones are redone
  out=$(kb -t keep:1 . 2>&1) || fail "rebuild keep"
  assert_eq "$(grep -c ' CACHED$' <<<"$out")" 3 "the kept image's steps stay CACHED"
  out=$(kb -t junk:1 -f Dockerfile.junk . 2>&1) || fail "rebuild junk"
  assert_eq "$(grep -c ' DONE ' <<<"$out")" 2 "the pruned steps are redone"
  out=$("$KILN" image prune) || fail "prune 2"
  assert_contains "$out" "Deleted 0 build cache entries and 0 layers"
  assert_status 125 "$KILN" image
  "$KILN" system check >/dev/null 2>&1 || fail "store check after prune: $("$KILN" system check 2>&1)"
  assert_clean
}

# --network NAME: RUN steps join a network the test made and reach a server on it by name and
# by address (requests only to that container, bounded loops); RUN --network=none still has only
# lo; the network is not in the cache key (as docker's); a failing RUN on the network and an
# unknown network leave nothing: no build record, lease, netns, veth, rule or aardvark entry.
net_teardown() {
  local ids; ids=$("$KILN" ps -aq --no-trunc 2>/dev/null)
  [ -n "$ids" ] && "$KILN" rm -f $ids >/dev/null 2>&1
  for n in $("$KILN" network ls -q 2>/dev/null | grep -vx kiln); do "$KILN" network rm "$n" >/dev/null 2>&1; done
  true
}
net_left() { # what a build step on a network could leave in the run root
  ls "$KILN_RUN_ROOT/containers" "$KILN_RUN_ROOT/netns" "$KILN_RUN_ROOT/ports" 2>/dev/null | grep -v ':$' | grep .
  find "$KILN_RUN_ROOT/networks" -mindepth 2 -type f 2>/dev/null
}
fetch_loop() { echo "for i in \$(seq 1 20); do timeout 5 wget -q -O $2 $1 2>/dev/null && exit 0; sleep 0.1; done; exit 1"; }

test_run_steps_on_a_named_network() {
  setup; cd "$T/ctx" || exit 1
  trap net_teardown EXIT
  veths=$(ip -o link show type veth 2>/dev/null | wc -l)
  "$KILN" network create "b$ID" >/dev/null || fail "network create"
  sub=$("$KILN" network inspect "b$ID" | jq -r '.[0].Subnet'); br=$("$KILN" network inspect "b$ID" | jq -r '.[0].Bridge')
  "$KILN" run -d --name "web$ID" --network "b$ID" --hostname webhost busybox httpd -f -p 80 -h /etc >/dev/null || fail "run web"
  ip=$("$KILN" inspect "web$ID" | jq -r ".[0].NetworkSettings.Networks[\"b$ID\"].IPAddress")
  { echo 'FROM busybox'
    echo "RUN $(fetch_loop "http://web$ID/hostname" /by-name)"
    echo "RUN --network=default $(fetch_loop "http://$ip/hostname" /by-ip)"
    echo 'RUN --network=none ip -o link | wc -l > /links'; } > Dockerfile
  id1=$("$KILN" build --network "b$ID" -t net:1 . 2>"$T/p1") || fail "build on the network: $(cat "$T/p1")"
  assert_eq "$("$KILN" run --rm --network none net:1 cat /by-name /by-ip /links)" "$(printf 'webhost\nwebhost\n1')" \
    "RUN reached the server by name and by address; --network=none has only lo"
  assert_eq "$("$KILN" ps -aq | wc -l)" 1 "only the server is left (no build step record)"
  # the network is not part of a RUN's cache key: with --network none every step is CACHED
  id2=$(kb -t net:2 . 2>"$T/p2") || fail "cached rebuild: $(cat "$T/p2")"
  assert_eq "$id2" "$id1" "same image id with another --network"
  assert_eq "$(grep -cE '^#[0-9]+ CACHED$' "$T/p2")" 4 "every step CACHED"
  # a RUN that fails on the network: exit 1, nothing tagged, its attachment undone
  printf 'FROM busybox\nRUN %s && echo reached; exit 3\n' "$(fetch_loop "http://web$ID/hostname" /x | sed 's/exit 0/break/; s/; exit 1$//')" > Dockerfile
  out=$("$KILN" build --network "b$ID" -t bad:1 . 2>&1); assert_eq $? 1 "a failing RUN on the network: $out"
  assert_contains "$out" " > reached"
  assert_not_contains "$(image_names)" "bad:1"
  # an unknown network: one line, 125, nothing made
  printf 'FROM busybox\nRUN true\n' > Dockerfile
  out=$("$KILN" build --network "nosuch$ID" -t bad:1 . 2>&1); assert_eq $? 125 "unknown network"
  assert_eq "$out" "kiln: network nosuch$ID not found (create it with kiln network create, or use none or host)"
  assert_not_contains "$(image_names)" "bad:1"
  "$KILN" rm -f "web$ID" >/dev/null || fail "rm web"
  "$KILN" network rm "b$ID" >/dev/null || fail "network rm (a lease left?)"
  left=$(net_left); [ -z "$left" ] || fail "left in the run root: $left"
  assert_eq "$(ip -o link show type veth 2>/dev/null | wc -l)" "$veths" "veth count"
  ! ip link show "$br" >/dev/null 2>&1 || fail "bridge $br left"
  ! iptables-save | grep -qF -- "$sub" || fail "iptables rules for $sub left: $(iptables-save | grep -F -- "$sub")"
  ! nft list ruleset 2>/dev/null | grep -qF -- "$sub" || fail "nft rules for $sub left"
  for _ in $(seq 1 20); do pgrep -f "$KILN_RUN_ROOT/netavark" >/dev/null || break; sleep 0.1; done
  ! pgrep -f "$KILN_RUN_ROOT/netavark" >/dev/null || fail "aardvark-dns still runs"
  assert_clean
}

# path, type+mode, uid, gid, symlink target, size and content hash (regular files): times aside.
rootfs_manifest() {
  (cd "$1" && find . -mindepth 1 -printf '%P %M %U %G %l ' -exec sh -c \
    'if [ -f "$1" ] && [ ! -L "$1" ]; then printf "%s " "$(stat -c %s "$1")"; sha256sum < "$1" | cut -d" " -f1; else echo -; fi' _ {} \; | sort)
}

test_same_rootfs_as_buildah() {
  command -v buildah >/dev/null || fail "buildah missing (tests/install-deps.sh)"
  setup; write_multistage
  # buildah 1.28 has no RUN heredocs: the same commands on one line
  awk '/^RUN <<EOF$/ {h=1; line="RUN "; next} h && /^EOF$/ {h=0; print line "true"; next} h {line=line $0 " && "; next} {print}' \
    Dockerfile > Dockerfile.nohd && mv Dockerfile.nohd Dockerfile
  grep -q '^RUN set -e && echo' Dockerfile || fail "heredoc rewrite: $(cat Dockerfile)"
  # ls -l shows times, which kiln clamps (reproducible layers) and buildah keeps: list without them
  sed -i 's|ls -ln /src|stat -c "%n %a %u %g %s" /src/* /src/keep/*|' Dockerfile
  mkdir -p "$T/bnet"
  printf '[containers]\nnetns = "none"\n[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\nevents_logfile_path = "%s"\n[network]\nnetwork_config_dir = "%s"\n' \
    "$T/bevents.log" "$T/bnet" > "$T/containers.conf"
  B() { CONTAINERS_CONF=$T/containers.conf buildah --root "$T/b" --runroot "$T/br" --storage-driver vfs "$@"; }
  B from --name base scratch >/dev/null || fail "buildah from scratch"
  tar -xzf "$IMAGES/rootfs.tar.gz" -C "$(B mount base)" || fail "buildah mount"
  B umount base >/dev/null; B commit -q base localhost/busybox:latest >/dev/null || fail "buildah commit"; B rm base >/dev/null
  kb -q -t cmp:1 --build-arg WHO=kiln . >/dev/null 2>"$T/kp" || fail "kiln build: $(cat "$T/kp")"
  # crun refuses this machine's hybrid cgroups: buildah's RUN steps use runc
  B bud --runtime runc --network none -q -t cmp:1 --build-arg WHO=kiln --build-arg BASE=localhost/busybox:latest . \
    >"$T/bp" 2>&1 || fail "buildah bud: $(tail -5 "$T/bp")"
  "$KILN" unpack cmp:1 "$T/kiln-bundle" >/dev/null || fail "kiln unpack"
  B from --name cmp localhost/cmp:1 >/dev/null || fail "buildah from"
  bm=$(B mount cmp) || fail "buildah mount cmp"
  rootfs_manifest "$T/kiln-bundle/rootfs" > "$T/kiln.manifest"
  rootfs_manifest "$bm" > "$T/buildah.manifest"
  B umount cmp >/dev/null; B rm cmp >/dev/null
  [ "$(wc -l < "$T/kiln.manifest")" -gt 5 ] || fail "kiln manifest too small: $(cat "$T/kiln.manifest")"
  diff -u "$T/buildah.manifest" "$T/kiln.manifest" > "$T/manifest.diff" || fail "final rootfs differs from buildah's: $(cat "$T/manifest.diff")"
  B rmi -a -f >/dev/null 2>&1
  rm -rf "$T/b" "$T/br"
  assert_clean
}

run_tests
