#!/usr/bin/env bash
# Indicative timings of the scoring pipeline and the image-embedding cache (issue 8). Run it on a
# quiet machine; every number is the wall time of a whole `prefscore` process.
#   1. time to first score: `prefscore score` of one image with the tiny fixture model (best of 5),
#      next to the floor of any run, `prefscore --version` (loading LibTorch and OpenCV);
#   2. `rank` of a folder of N JPEGs (512x512, made here) with --decode-threads 0, 1, 2 (tiny model);
#   3. `rank` without a cache, then `rank --cache DIR` twice: the first run, then a second one with
#      a new prompt (tiny model);
#   4. with --full: 3. with a random full-size ViT-H/14 (the hpsv2 card's dims, open_clip layout,
#      ~4 GB of float32 written to $TMPDIR by scripts/make_random_checkpoint.py, removed after).
# Usage: scripts/bench_cache.sh [--full] [--images N] [--threads T]   (build first: scripts/test.sh)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${PREFSCORE_BIN:-$ROOT/build/prefscore}"
PY=/usr/bin/python3
FULL=0 IMAGES=16 THREADS=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --full) FULL=1; shift ;;
    --images) IMAGES="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    *) echo "usage: $0 [--full] [--images N] [--threads T]" >&2; exit 2 ;;
  esac
done
WORK="$(mktemp -d "${TMPDIR:-/tmp}/prefscore_bench_cache.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
# Digest records and packed weights of the temporary checkpoints stay in the work folder (removed
# at exit) rather than accumulating in the user's cache.
export PREFSCORE_CACHE_DIR="$WORK/prefscore-cache"
TINY=(--model-card "$ROOT/tests/data/cards/tiny-hf.json" --weights "$ROOT/tests/data/models/hf")

now() { date +%s.%N; }
# Seconds one command takes (its output discarded; exit status 0 or 3 accepted).
seconds() {
  local t0 t1 rc=0
  t0=$(now); "$@" >/dev/null 2>"$WORK/stderr" || rc=$?; t1=$(now)
  if [[ $rc -ne 0 && $rc -ne 3 ]]; then cat "$WORK/stderr" >&2; exit 1; fi
  echo "$t1 - $t0" | bc -l
}
best_of() {
  local n=$1 best="" t; shift
  for ((i = 0; i < n; ++i)); do
    t=$(seconds "$@"); if [[ -z $best ]] || (($(echo "$t < $best" | bc -l))); then best=$t; fi
  done
  echo "$best"
}

"$PY" "$ROOT/scripts/make_bench_jpegs.py" "$WORK/images" "$IMAGES" 512
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); --threads $THREADS; $IMAGES JPEGs 512x512"

t=$(best_of 5 "$BIN" --version)
printf "floor: prefscore --version, i.e. loading LibTorch and OpenCV (best of 5): %.3f s\n" "$t"
t=$(best_of 5 "$BIN" score "${TINY[@]}" --threads "$THREADS" -p "a cat" "$WORK/images/img000.jpg")
printf "tiny: time to first score (score, 1 image, best of 5): %.3f s\n" "$t"
for d in 0 1 2; do
  t=$(best_of 3 "$BIN" rank "${TINY[@]}" --threads "$THREADS" --decode-threads $d -p "a cat" "$WORK/images")
  printf "tiny: rank of %d images, --decode-threads %d (best of 3): %.3f s\n" "$IMAGES" "$d" "$t"
done

rank_cache() {  # label, model args...
  local label=$1; shift
  rm -rf "$WORK/cache"
  local plain first second
  plain=$(seconds "$BIN" rank "$@" --threads "$THREADS" -p "a cat" "$WORK/images")
  first=$(seconds "$BIN" rank "$@" --threads "$THREADS" --cache "$WORK/cache" -p "a cat" "$WORK/images")
  second=$(seconds "$BIN" rank "$@" --threads "$THREADS" --cache "$WORK/cache" -p "a red square" "$WORK/images")
  grep "prefscore: cache" "$WORK/stderr" || true
  printf "%s: rank without a cache %.2f s; rank --cache: first run %.2f s (incl. the weights digest), second run (new prompt) %.3f s: %.1fx faster than the first, %.1fx than no cache\n" \
    "$label" "$plain" "$first" "$second" "$(echo "$first / $second" | bc -l)" "$(echo "$plain / $second" | bc -l)"
}
rank_cache tiny "${TINY[@]}"

if [[ $FULL -eq 1 ]]; then
  echo "writing a random ViT-H/14 checkpoint (~4 GB) ..."
  "$PY" "$ROOT/scripts/make_random_checkpoint.py" "$ROOT/models/hpsv2.json" "$WORK/vit_h.safetensors"
  rank_cache "ViT-H/14 fp32" -m hpsv2 --weights "$WORK/vit_h.safetensors"
fi
