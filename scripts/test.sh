#!/usr/bin/env bash
# Builds prefscore if needed and runs every test with ctest, then the fuzz smoke; exits non-zero on
# any failure.
# Usage: bash scripts/test.sh [--sanitize] [extra ctest arguments, e.g. -R safetensors]
#   --sanitize  build with AddressSanitizer + UndefinedBehaviorSanitizer (PREFSCORE_SANITIZE, in
#               build-sanitize/) and run the suite under it; the first report fails the test.
# Fuzz smoke: a plain run of the whole suite (no --sanitize, no extra ctest arguments: what CI
# runs) then builds the libFuzzer targets with clang (ASan + UBSan, build-fuzz/, scripts/fuzz.sh
# --build), runs the parsers' unit tests built on that instrumented library (sanitized_test_*), and
# fuzzes each target for PREFSCORE_FUZZ_SMOKE_SECONDS (default 20) from its seed corpus; a finding
# fails the run. It needs clang and libclang-rt-14-dev (scripts/setup.sh installs them).
# Environment: PREFSCORE_SKIP_FUZZ=1 skips the fuzz smoke; PREFSCORE_BUILD_DIR and
# PREFSCORE_FUZZ_BUILD_DIR override the build folders.
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
  # -O1 -g1 (line tables only): a sanitizer report still names file:line, and the ~55 objects that
  # include LibTorch compile 3x faster than at -O2 -g. clang is preferred: with it the whole build
  # takes about a third of gcc's time (measured on src/scorer.cpp: 16 s against 47 s).
  CONFIGURE=(-DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1"
             -DPREFSCORE_SANITIZE=ON)
  if command -v clang++ >/dev/null; then
    CONFIGURE+=(-DCMAKE_CXX_COMPILER=clang++)
  fi
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

if ((SANITIZE)) || (($# > 0)); then
  exit 0  # the fuzz smoke goes with the plain, whole suite only
fi
if [[ "${PREFSCORE_SKIP_FUZZ:-0}" == "1" ]]; then
  echo "==> Fuzz smoke skipped (PREFSCORE_SKIP_FUZZ=1)"
  exit 0
fi
command -v clang++ >/dev/null || {
  echo "test.sh: error: the fuzz smoke needs clang++ and libclang-rt-14-dev (run scripts/setup.sh," \
    "or set PREFSCORE_SKIP_FUZZ=1 to skip it)" >&2
  exit 1
}
SMOKE_SECONDS="${PREFSCORE_FUZZ_SMOKE_SECONDS:-20}"
echo "==> Fuzz smoke: building the fuzz targets and sanitized parser tests (clang, ASan + UBSan)"
FUZZ_JOBS="$JOBS" bash "$ROOT/scripts/fuzz.sh" --build
FUZZ_BUILD_DIR="${PREFSCORE_FUZZ_BUILD_DIR:-$ROOT/build-fuzz}"
echo "==> Fuzz smoke: the parsers' unit tests under ASan + UBSan (leak checking on)"
# Nothing here links LibTorch, so leaks are checked too.
ASAN_OPTIONS="${ASAN_OPTIONS:-halt_on_error=1:abort_on_error=1:detect_leaks=1}" \
  UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}" \
  ctest --test-dir "$FUZZ_BUILD_DIR/tests/fuzz" --output-on-failure -j "$JOBS"
failed=()
for source in "$ROOT"/tests/fuzz/fuzz_*.cpp; do
  target="$(basename "$source" .cpp)"
  target="${target#fuzz_}"
  echo "==> Fuzz smoke: $target for $SMOKE_SECONDS s"
  bash "$ROOT/scripts/fuzz.sh" "$target" "$SMOKE_SECONDS" || failed+=("$target")
done
if ((${#failed[@]})); then
  echo "test.sh: error: fuzz smoke found problems in: ${failed[*]} (inputs saved, see above)" >&2
  exit 1
fi
echo "==> Fuzz smoke: no findings"
