#!/usr/bin/python3
"""Writes N photographic-looking JPEGs (smooth colour gradients plus noise, quality 90, SIZE x SIZE,
img000.jpg ...) into a new folder OUT, the same images on every run (seed 0): the inputs of
scripts/bench_cache.sh and scripts/bench_end_to_end.sh.

Usage: /usr/bin/python3 scripts/make_bench_jpegs.py OUT N SIZE
"""
import os
import sys

import numpy as np
from PIL import Image

out, n, s = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.makedirs(out)
rng = np.random.default_rng(0)
y, x = np.mgrid[0:s, 0:s]
for i in range(n):
    base = np.stack([(x + 37 * i) % 256, (y * (i + 1)) % 256, (x + y + 11 * i) % 256], -1)
    noise = rng.integers(0, 40, size=(s, s, 3))
    Image.fromarray(((base + noise) % 256).astype(np.uint8)).save(f"{out}/img{i:03d}.jpg", quality=90)
