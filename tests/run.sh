#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: unit tests (also under ASan+UBSan),
# integration tests with real containers (as root), and a short run of each fuzz target.
# Usage: tests/run.sh [integration-test-name-filter]
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
filter=${1:-}

tests/install-deps.sh
jobs=$(nproc)

echo "== format (clang-format with .clang-format)"
find common cgroups runtime image engine cli tests \( -name '*.cpp' -o -name '*.hpp' -o -name '*.c' \) -print0 |
  xargs -0 clang-format --dry-run -Werror

# One build serves the unit and the integration tests; it has the failpoints compiled in
# (common/failpoint.hpp) for tests/integration/faults_test.sh. A user's build has none.
echo "== build (-O2, no debug info, failpoints)"
cmake -S . -B build -G Ninja -DKILN_WERROR=ON -DKILN_FAILPOINTS=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -DNDEBUG" >/dev/null
ninja -C build -j "$jobs"

echo "== unit tests"
(cd build && ctest --output-on-failure -j "$jobs")

if [ -z "$filter" ]; then
  # One sanitizer build (clang) serves both: the unit tests under ASan+UBSan, and the libFuzzer
  # targets (also ASan+UBSan). Two separate builds cost CI minutes on 2 cores.
  echo "== unit tests under AddressSanitizer + UndefinedBehaviorSanitizer (clang)"
  CC=clang CXX=clang++ cmake -S . -B build-san -G Ninja -DKILN_WERROR=ON -DCMAKE_BUILD_TYPE=Debug -DKILN_SANITIZE=ON -DKILN_FUZZ=ON >/dev/null
  ninja -C build-san -j "$jobs" \
    $(ninja -C build-san -t targets all | grep -o '^tests/unit_[a-z]*:' | tr -d : | sort -u) \
    $(for f in tests/fuzz/*_fuzz.cpp; do basename "$f" .cpp; done)
  (cd build-san && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
     ctest --output-on-failure -j "$jobs")

  echo "== fuzz targets (libFuzzer, short runs)"
  for f in tests/fuzz/*_fuzz.cpp; do
    name=$(basename "$f" .cpp)
    corpus=tests/fuzz/corpus/${name%_fuzz}
    work=$(mktemp -d); [ -d "$corpus" ] && cp -r "$corpus"/. "$work"/
    echo "-- $name"
    build-san/tests/"$name" -max_total_time="${KILN_FUZZ_SECONDS:-20}" -rss_limit_mb=2048 "$work" 2>&1 | tail -2
    rm -rf "$work"
  done
fi

echo "== integration tests (real containers)"
export KILN_BUILD=$top/build
failed=()
for t in tests/integration/*_test.sh; do
  [ -n "$filter" ] && [[ "$t" != *"$filter"* ]] && continue
  echo "-- $t"
  # Each test has its own timeout (lib.sh); this bounds a suite's set-up too.
  if ! timeout -k 10 "${KILN_SUITE_TIMEOUT:-1200}" bash "$t" < /dev/null; then failed+=("$t"); fi
done
if [ -z "$filter" ]; then
  # The OCI runtime-tools validation suite, kiln-runtime and runc side by side (~5 min).
  echo "== OCI conformance (runtime-tools validation suite)"
  if ! timeout -k 10 "${KILN_CONFORMANCE_SUITE_TIMEOUT:-1800}" bash tests/conformance/run.sh < /dev/null; then
    failed+=(tests/conformance/run.sh)
  fi
fi
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "all tests passed"
