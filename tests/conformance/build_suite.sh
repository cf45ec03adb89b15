#!/usr/bin/env bash
# Builds the OCI runtime-tools validation suite (runtimetest and the validation/*/*.t programs)
# from the vendored source tarball, offline, once per build dir: a stamp holding the tarball's
# sha256 says the binaries under DIR/runtime-tools match it.
#   usage: tests/conformance/build_suite.sh TARBALL DIR
set -euo pipefail
tarball=$1 dir=$2
src=$dir/runtime-tools
stamp=$dir/built.sha256

[ -f "$tarball" ] || { echo "build_suite: no suite source at $tarball" >&2; exit 2; }
command -v go >/dev/null || { echo "build_suite: no go (tests/install-deps.sh installs golang-go)" >&2; exit 2; }
sum=$(sha256sum "$tarball" | cut -d' ' -f1)
[ "$(cat "$stamp" 2>/dev/null)" = "$sum" ] && [ -x "$src/runtimetest" ] && exit 0

echo "build_suite: building runtime-tools from $(basename "$tarball")" >&2
start=$(date +%s)
rm -rf "$src" "$stamp"
mkdir -p "$dir"
tar -xzf "$tarball" -C "$dir"
[ -f "$src/Makefile" ] || { echo "build_suite: $tarball has no runtime-tools/Makefile" >&2; exit 2; }
# The dependencies are vendored: no module download, no proxy. The Go cache stays with the build
# dir, so a rebuild after a tarball change reuses the compiled dependencies.
(cd "$src" && GOFLAGS=-mod=vendor GOPROXY=off GOCACHE="$dir/gocache" GOPATH="$dir/gopath" \
  nice make -j "$(nproc)" runtimetest validation-executables COMMIT=260e151) >"$dir/build.log" 2>&1 \
  || { tail -20 "$dir/build.log" >&2; echo "build_suite: make failed (log: $dir/build.log)" >&2; exit 1; }
echo "$sum" >"$stamp"
echo "build_suite: built $(ls "$src"/validation/*/*.t | wc -l) programs in $(($(date +%s) - start)) s" >&2
