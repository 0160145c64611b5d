#!/usr/bin/env bash
# Builds one libFuzzer target (clang, ASan + UBSan, in build-fuzz/) and runs it for SECONDS on a
# scratch copy of its seed corpus (tests/fuzz/corpus/TARGET/ stays as committed); prints the
# executions per second, the total executions and where any finding was saved.
# Usage: bash scripts/fuzz.sh TARGET SECONDS [extra libFuzzer flags]
#   TARGET: safetensors, image, tokenizer, manifest or eval_inputs (tests/fuzz/fuzz_TARGET.cpp)
#        bash scripts/fuzz.sh --build
#   builds the fuzz targets and the sanitized parser tests (tests/fuzz/CMakeLists.txt) and exits.
# Needs clang and libclang-rt-14-dev (Debian). Environment: PREFSCORE_FUZZ_BUILD_DIR (build
# folder, default build-fuzz/), FUZZ_JOBS (build jobs, default 2).
set -euo pipefail

die() { printf 'fuzz.sh: error: %s\n' "$*" >&2; exit 2; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${PREFSCORE_FUZZ_BUILD_DIR:-$ROOT/build-fuzz}"

# Configures build-fuzz/ if needed and builds the given targets (when none: prefscore_fuzz_all,
# every fuzz target and sanitized parser test, without the LibTorch library).
build() {
  command -v clang++ >/dev/null \
    || die "clang++ not found (Debian: apt-get install clang libclang-rt-14-dev, or scripts/setup.sh)"
  # Two runs may start side by side: one builds at a time.
  mkdir -p "$BUILD_DIR"
  exec 9>"$BUILD_DIR/.fuzz-build.lock"
  flock 9
  if [[ ! -f "$BUILD_DIR/CMakeCache.txt" ]]; then
    cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_CXX_COMPILER=clang++ -DPREFSCORE_BUILD_FUZZ=ON -DPREFSCORE_BUILD_TESTS=OFF >/dev/null
  fi
  local targets=("$@")
  (($# > 0)) || targets=(prefscore_fuzz_all)
  cmake --build "$BUILD_DIR" -j "${FUZZ_JOBS:-2}" --target "${targets[@]}"
  flock -u 9
}

if [[ "${1:-}" == "--build" ]]; then
  build
  exit 0
fi
(($# >= 2)) || die "usage: fuzz.sh TARGET SECONDS [libFuzzer flags], or fuzz.sh --build"
TARGET="$1"
SECONDS_TO_RUN="$2"
shift 2
[[ -f "$ROOT/tests/fuzz/fuzz_$TARGET.cpp" ]] \
  || die "no target '$TARGET'; have: $(cd "$ROOT/tests/fuzz" && ls fuzz_*.cpp | sed 's/fuzz_//;s/\.cpp//' | tr '\n' ' ')"
[[ "$SECONDS_TO_RUN" =~ ^[0-9]+$ ]] || die "SECONDS must be a whole number, got '$SECONDS_TO_RUN'"
build "fuzz_$TARGET"
BINARY="$BUILD_DIR/tests/fuzz/fuzz_$TARGET"

# libFuzzer adds every new interesting input to the first corpus folder: a scratch copy.
WORK="$(mktemp -d "${TMPDIR:-/tmp}/prefscore_fuzz_${TARGET}.XXXXXX")"
mkdir -p "$WORK/corpus" "$WORK/artifacts"
if [[ -d "$ROOT/tests/fuzz/corpus/$TARGET" ]]; then
  cp -r "$ROOT/tests/fuzz/corpus/$TARGET/." "$WORK/corpus/"
fi
LOG="$WORK/fuzz.log"
DICT=()  # the target's libFuzzer dictionary, where it has one
[[ ! -f "$ROOT/tests/fuzz/$TARGET.dict" ]] || DICT=(-dict="$ROOT/tests/fuzz/$TARGET.dict")

# halt_on_error: the first report ends the run and leaves the input in artifacts/. LibTorch and
# OpenCV are not built with ASan; leak checking stays on (libFuzzer reports a leak per input).
export ASAN_OPTIONS="${ASAN_OPTIONS:-halt_on_error=1:abort_on_error=1:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
set +e
"$BINARY" "$WORK/corpus" -max_total_time="$SECONDS_TO_RUN" -print_final_stats=1 \
  -artifact_prefix="$WORK/artifacts/" -rss_limit_mb=4096 -timeout=30 "${DICT[@]}" "$@" >"$LOG" 2>&1
status=$?
set -e

execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$LOG" | tail -1)"
per_second="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$LOG" | tail -1)"
echo "target:        fuzz_$TARGET"
echo "seconds:       $SECONDS_TO_RUN"
echo "execs/s:       ${per_second:-?}"
echo "total execs:   ${execs:-?}"
echo "corpus:        $(ls "$WORK/corpus" | wc -l) inputs ($WORK/corpus)"
echo "log:           $LOG"
if ((status != 0)) || [[ -n "$(ls -A "$WORK/artifacts")" ]]; then
  echo "FINDINGS (exit $status), inputs saved in $WORK/artifacts/:"
  ls -l "$WORK/artifacts"
  grep -m 5 -E "ERROR: |runtime error|SUMMARY|threw" "$LOG" || tail -20 "$LOG"
  exit 1
fi
echo "findings:      none"
