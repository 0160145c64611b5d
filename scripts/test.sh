#!/usr/bin/env bash
# Builds prefscore if needed and runs every test with ctest; exits non-zero on any failure.
# Usage: bash scripts/test.sh [--sanitize] [extra ctest arguments, e.g. -R safetensors]
#   --sanitize  build with AddressSanitizer + UndefinedBehaviorSanitizer (PREFSCORE_SANITIZE, in
#               build-sanitize/) and run the suite under it; the first report fails the test.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
JOBS="$(nproc 2>/dev/null || echo 2)"

SANITIZE=0
if [[ "${1:-}" == "--sanitize" ]]; then
  SANITIZE=1
  shift
fi

if ((SANITIZE)); then
  BUILD_DIR="${PREFSCORE_BUILD_DIR:-$ROOT/build-sanitize}"
  CONFIGURE=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DPREFSCORE_SANITIZE=ON)
  # halt_on_error: a report ends the test binary, so ctest counts it as a failure. detect_leaks=0:
  # LibTorch keeps process-lifetime allocations (operator registries, thread pools) that
  # LeakSanitizer would report at exit; set ASAN_OPTIONS yourself to check leaks anyway.
  export ASAN_OPTIONS="${ASAN_OPTIONS:-halt_on_error=1:abort_on_error=1:detect_leaks=0}"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
else
  BUILD_DIR="${PREFSCORE_BUILD_DIR:-$ROOT/build}"
  CONFIGURE=(-DCMAKE_BUILD_TYPE=Release)
fi

if [[ ! -f "$BUILD_DIR/CMakeCache.txt" ]]; then
  echo "==> Configuring (${CONFIGURE[*]}) into $BUILD_DIR"
  cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja "${CONFIGURE[@]}" -DPREFSCORE_BUILD_TESTS=ON
fi
echo "==> Building (incremental)"
cmake --build "$BUILD_DIR" -j "$JOBS"
echo "==> Running the tests"
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS" "$@"
