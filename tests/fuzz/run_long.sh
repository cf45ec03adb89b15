#!/usr/bin/env bash
# Long fuzzing runs outside CI (tests/run.sh gives each target 20 s): every *_fuzz target, or the
# ones named, for SECONDS each (default 600), with a copy of its corpus; new inputs that add
# coverage are kept in tests/fuzz/corpus/<name>/ with --keep. Prints per target the executions,
# coverage (edges) and features libFuzzer reports, and any crash file.
# Usage: tests/fuzz/run_long.sh [--keep] [SECONDS] [target...]   (builds build-san if needed)
set -euo pipefail
cd "$(dirname "$0")/../.."
keep=0
[ "${1:-}" == --keep ] && { keep=1; shift; }
secs=${1:-600}; shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=($(for f in tests/fuzz/*_fuzz.cpp; do basename "$f" .cpp; done))
CC=clang CXX=clang++ cmake -S . -B build-san -G Ninja -DCMAKE_BUILD_TYPE=Debug -DKILN_SANITIZE=ON -DKILN_FUZZ=ON >/dev/null
ninja -C build-san "${targets[@]}"
for name in "${targets[@]}"; do
  corpus=tests/fuzz/corpus/${name%_fuzz}
  work=$(mktemp -d); mkdir -p "$corpus"; cp -r "$corpus"/. "$work"/
  echo "== $name ($secs s)"
  build-san/tests/"$name" -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$work/" "$work" 2>&1 |
    grep -E '^#[0-9]+ +DONE|stat::number_of_executed_units|^==.*ERROR|Test unit written' || true
  ls "$work"/crash-* "$work"/leak-* "$work"/timeout-* 2>/dev/null && echo "   ^ kept in $work" || {
    [ $keep -eq 1 ] && build-san/tests/"$name" -merge=1 "$corpus" "$work" >/dev/null 2>&1
    rm -rf "$work"
  }
done
