#!/usr/bin/env bash
# End-to-end throughput of `prefscore rank` on real JPEG files with a full-size ViT-H/14 (random
# weights, open_clip layout): reading, decoding and preprocessing on the worker thread, overlapped
# with the model, plus the text tower and the output. Prints images/s, the achieved image-tower
# GFLOP/s and its fraction of the GEMM peak that `prefscore bench` measures in-process for the same
# precision. Fixed costs (process start, loading, the prompt) are removed by timing runs of two
# lengths, alternated three times, best of each: rate = (N - n0) / (t(N) - t(n0)).
#
# Usage: scripts/bench_end_to_end.sh [--precision bf16|int8|fp32] [--images N] [--size PX]
#                                    [--weights FILE] [--threads T]
# Without --weights a random checkpoint (~4 GB) is written to $TMPDIR and removed afterwards.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${PREFSCORE_BIN:-$ROOT/build/prefscore}"
PY=/usr/bin/python3
PRECISION=bf16 IMAGES=68 SIZE=1024 WEIGHTS="" THREADS=0 FIRST=4 BATCH=4
while [[ $# -gt 0 ]]; do
  case "$1" in
    --precision) PRECISION="$2"; shift 2 ;;
    --images) IMAGES="$2"; shift 2 ;;
    --size) SIZE="$2"; shift 2 ;;
    --weights) WEIGHTS="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    *) echo "usage: $0 [--precision P] [--images N] [--size PX] [--weights FILE] [--threads T]" >&2
       exit 2 ;;
  esac
done
if (( IMAGES <= FIRST )); then echo "$0: --images must be more than $FIRST" >&2; exit 2; fi
WORK="$(mktemp -d "${TMPDIR:-/tmp}/prefscore_bench_e2e.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
# Digest records and packed weights of the temporary checkpoints stay in the work folder (removed
# at exit) rather than accumulating in the user's cache.
export PREFSCORE_CACHE_DIR="$WORK/prefscore-cache"

if [[ -z $WEIGHTS ]]; then
  echo "writing a random ViT-H/14 checkpoint (~4 GB) to $WORK ..."
  "$PY" "$ROOT/scripts/make_random_checkpoint.py" "$ROOT/models/hpsv2.json" "$WORK/vit_h.safetensors"
  WEIGHTS="$WORK/vit_h.safetensors"
fi

"$PY" "$ROOT/scripts/make_bench_jpegs.py" "$WORK/all" "$IMAGES" "$SIZE"
mkdir "$WORK/first"
for f in $(ls "$WORK/all" | head -n "$FIRST"); do ln -s "$WORK/all/$f" "$WORK/first/$f"; done

now() { date +%s.%N; }
run_rank() {  # folder -> seconds
  local t0 t1
  t0=$(now)
  "$BIN" rank -m hpsv2 --weights "$WEIGHTS" --precision "$PRECISION" --threads "$THREADS" \
    --batch-size "$BATCH" -p "a photo of a cat" "$1" >/dev/null
  t1=$(now)
  echo "$t1 - $t0" | bc -l
}
echo "peak: prefscore bench --precision $PRECISION (in-process GEMM peak of that precision) ..."
PEAK=$("$BIN" bench --model clip-h --synthetic --precision "$PRECISION" --threads "$THREADS" \
  --batch-size "$BATCH" --iters 2 --format json | tail -n 1 |
  "$PY" -c 'import json,sys; j=json.load(sys.stdin); print(j["peak_gflops"], j["images_per_second"])')
read -r PEAK_GFLOPS MODEL_RATE <<<"$PEAK"
min() { if (($(echo "$1 < $2" | bc -l))); then echo "$1"; else echo "$2"; fi; }
T_FIRST=999999 T_ALL=999999
for _ in 1 2 3; do
  T_FIRST=$(min "$T_FIRST" "$(run_rank "$WORK/first")")
  T_ALL=$(min "$T_ALL" "$(run_rank "$WORK/all")")
done
"$PY" - "$IMAGES" "$FIRST" "$T_FIRST" "$T_ALL" "$PEAK_GFLOPS" "$MODEL_RATE" "$PRECISION" "$SIZE" <<'PYEOF'
import sys
n, n0, t0, t1, peak, model_rate = (float(v) for v in sys.argv[1:7])
precision, size = sys.argv[7], sys.argv[8]
gflop = 334.59  # per ViT-H/14 image at 224 px (prefscore bench's analytic count)
rate = (n - n0) / (t1 - t0)
print(f"rank, {precision}, {size}x{size} JPEGs (best of 3): {int(n0)} images in {t0:.2f} s, "
      f"{int(n)} in {t1:.2f} s")
print(f"end to end: {rate:.3f} images/s, {1000 / rate:.1f} ms/image, {rate * gflop:.0f} GFLOP/s = "
      f"{100 * rate * gflop / peak:.1f}% of the measured GEMM peak ({peak:.0f} GFLOP/s); "
      f"model alone (bench): {model_rate:.3f} images/s = {100 * model_rate * gflop / peak:.1f}%")
PYEOF
