#!/usr/bin/env bash
# Regenerates docs/report-score.png, docs/report-audit.png and docs/report-explain.png: --report
# pages of `score`, `audit` and `explain` on the tiny test fixture models (tests/data), photographed by headless Chromium at
# 1280x1400. The scores are those of random tiny models, so only the layout means anything.
# Usage: bash scripts/report_screenshot.sh   (after a build into build/, or PREFSCORE_BUILD_DIR)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${PREFSCORE_BUILD_DIR:-$ROOT/build}/prefscore"
DATA="$ROOT/tests/data"
[[ -x "$BIN" ]] || { echo "report_screenshot.sh: $BIN not found; build first" >&2; exit 1; }
command -v chromium >/dev/null || {
  echo "report_screenshot.sh: chromium not found; run scripts/setup.sh" >&2; exit 1; }

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
TINY=(--model-card "$DATA/cards/tiny-hf.json" --weights "$DATA/models/hf" --precision fp32)
IMAGES=(img0_rgb_300x200.png img1_gray_180x260.png img2_rgba_512x512.png
        img3_astronaut_512x512.jpg)

mkdir -p "$WORK/images" "$WORK/real" "$WORK/synthetic"
for f in "${IMAGES[@]}"; do
  cp "$DATA/pipeline/inputs/$f" "$WORK/images/$f"
  cp "$DATA/pipeline/inputs/$f" "$WORK/real/$f"
done
for prompt in "a photo of an astronaut riding a horse on the moon" "a cat on a red sofa"; do
  for f in "${IMAGES[@]}"; do
    printf '{"image": "images/%s", "prompt": "%s"}\n' "$f" "$prompt"
  done
done > "$WORK/manifest.jsonl"
cp "$WORK/real/${IMAGES[0]}" "$WORK/synthetic/s0.png"
cp "$WORK/real/${IMAGES[0]}" "$WORK/synthetic/s1.png"
cp "$WORK/real/${IMAGES[1]}" "$WORK/synthetic/s2.png"
cp "$WORK/real/${IMAGES[3]}" "$WORK/synthetic/s3.jpg"

(cd "$WORK" && "$BIN" score "${TINY[@]}" --manifest manifest.jsonl --format jsonl \
  --report "$WORK/score.html" >/dev/null)
(cd "$WORK" && "$BIN" audit "${TINY[@]}" --real real --synthetic synthetic --folds 2 \
  --report "$WORK/audit.html" >/dev/null)
(cd "$WORK" && "$BIN" explain "${TINY[@]}" -p "a photo of an astronaut riding a horse" \
  images/img3_astronaut_512x512.jpg --report "$WORK/explain.html" >/dev/null)

mkdir -p "$ROOT/docs"
for page in score audit explain; do
  HOME="$WORK" timeout 120 chromium --headless=new --no-sandbox --disable-gpu \
    --disable-dev-shm-usage --user-data-dir="$WORK/profile" --hide-scrollbars \
    --window-size=1280,1400 --screenshot="$ROOT/docs/report-$page.png" \
    "file://$WORK/$page.html" 2>/dev/null
  echo "wrote docs/report-$page.png"
done
