#!/usr/bin/env bash
# Installs what prefscore needs on Debian 12, builds it (Release, into build/) and prints a command
# to try. Idempotent: installed packages are skipped and the build is incremental.
# Usage: bash scripts/setup.sh            (as root, or as a user with sudo)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${PREFSCORE_BUILD_DIR:-$ROOT/build}"

say() { printf '\n==> %s\n' "$*"; }
die() { printf 'setup.sh: error: %s\n' "$*" >&2; exit 1; }

# Exactly what the build and the tests need (README.md "Dependencies").
PACKAGES=(
  g++ cmake ninja-build ccache
  libtorch-dev libopenblas0-pthread
  libopencv-core-dev libopencv-imgproc-dev libopencv-imgcodecs-dev
  libcli11-dev nlohmann-json3-dev libsentencepiece-dev catch2
  libutf8proc-dev zlib1g-dev libjpeg-dev
  libdnnl-dev  # oneDNN headers: the CPU bf16 fast path (src/onednn_transformer.cpp); optional
  python3-torch  # scripts/convert_checkpoint.py and its test (tests/test_convert.cpp)
  python3-yaml  # tests/test_cli_shards.cpp parses scripts/k8s/score-indexed-job.yaml
  chromium  # tests/test_cli_report.cpp renders the --report pages headless
  # The fuzz smoke of scripts/test.sh (scripts/fuzz.sh): clang and its libFuzzer and sanitizer
  # runtimes, which clang-14 only recommends (bookworm's clang is clang-14).
  clang libclang-rt-14-dev
)

[[ -r /etc/debian_version ]] || die "this script supports Debian 12 (bookworm); /etc/debian_version not found"

if [[ $EUID -eq 0 ]]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  die "not root and sudo is not installed: run as root, or install sudo"
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]})); then
  say "Installing ${#missing[@]} Debian packages: ${missing[*]}"
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q \
    || die "apt-get update failed (is a Debian mirror reachable?)"
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" \
    || die "apt-get install failed for: ${missing[*]}"
else
  say "All ${#PACKAGES[@]} required Debian packages are already installed"
fi

JOBS="$(nproc 2>/dev/null || echo 2)"
say "Configuring (Release) into $BUILD_DIR"
cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  || die "cmake configure failed (see the messages above)"
say "Building with $JOBS jobs (ccache: $(command -v ccache >/dev/null && echo on || echo off))"
cmake --build "$BUILD_DIR" -j "$JOBS" || die "build failed (see the compiler messages above)"

"$BUILD_DIR/prefscore" --version >/dev/null || die "the built binary does not run: $BUILD_DIR/prefscore"

REL_BUILD="${BUILD_DIR#"$PWD"/}"
say "Done. prefscore is built: $BUILD_DIR/prefscore"
cat <<EOT

Try it (the tiny test model of tests/data scores the fixture images; real models need their
weights, see "prefscore models show pickscore"):
  $REL_BUILD/prefscore score --model-card $ROOT/tests/data/cards/tiny-hf.json \\
      --weights $ROOT/tests/data/models/hf \\
      -p "a photo of an astronaut riding a horse on the moon" $ROOT/tests/data/pipeline/inputs
  $REL_BUILD/prefscore models

Run the tests:
  bash scripts/test.sh
EOT
