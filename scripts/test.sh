#!/usr/bin/env bash
# Builds prefscore if needed and runs every test with ctest; exits non-zero on any failure.
# Usage: bash scripts/test.sh [extra ctest arguments, e.g. -R safetensors]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${PREFSCORE_BUILD_DIR:-$ROOT/build}"
JOBS="$(nproc 2>/dev/null || echo 2)"

if [[ ! -f "$BUILD_DIR/CMakeCache.txt" ]]; then
  echo "==> Configuring (Release) into $BUILD_DIR"
  cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPREFSCORE_BUILD_TESTS=ON
fi
echo "==> Building (incremental)"
cmake --build "$BUILD_DIR" -j "$JOBS"
echo "==> Running the tests"
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS" "$@"
