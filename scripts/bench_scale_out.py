#!/usr/bin/env python3
"""Local simulation of a sharded run's bottlenecks (issue 11; README "Scoring millions of images").

1. merge: writes N synthetic shard files of a T-item run (the format of include/prefscore/
   shard_file.h; items assigned to shards by the same sha256 rule as prefscore), then times
   `prefscore merge` and reports items/s, the merged file's size and merge's peak RSS.
2. shards on one machine: scores a folder of K copies of the fixture images with the tiny model
   as 1, 2, ... P concurrent shard processes (one thread each) and reports the aggregate images/s,
   to show throughput growing with workers until the cores run out.

Usage: scripts/bench_scale_out.py [--items T] [--shards N] [--images K] [--processes P]
Indicative: run it on a quiet machine; every time is a whole process's wall time.
"""
import argparse
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("PREFSCORE_BIN", os.path.join(ROOT, "build", "prefscore"))
TINY = ["--model-card", os.path.join(ROOT, "tests/data/cards/tiny-hf.json"),
        "--weights", os.path.join(ROOT, "tests/data/models/hf")]


def shard_of(image, prompt, group, count):
    digest = hashlib.sha256(f"{image}\0{prompt}\0{group}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % count


def write_synthetic_shards(work, items, shards):
    prompt = "a photo of an astronaut riding a horse on the moon"
    per_shard = [[] for _ in range(shards)]
    for i in range(items):
        image = f"/data/images/{i // 1000:05d}/{i:08d}.png"
        per_shard[shard_of(image, prompt, "", shards)].append((i, image))
    model = {"name": "pickscore", "head": "pickscore", "columns": ["score"],
             "weights_sha256": "0" * 64, "fingerprint": "1" * 64}
    paths = []
    for s, rows in enumerate(per_shard):
        path = os.path.join(work, f"shard_{s}.jsonl")
        with open(path, "w") as f:
            header = {"prefscore_shard": 1, "command": "score", "shard": f"{s}/{shards}",
                      "items": len(rows), "total_items": items, "work_list_sha256": "2" * 64,
                      "models": [model], "top": 0, "version": "sim"}
            f.write(json.dumps(header, separators=(",", ":")) + "\n")
            for i, image in rows:
                cos = ((i * 7919) % 1000) / 1000.0
                f.write(json.dumps({"index": i, "image": image, "prompt": prompt,
                                    "model": "pickscore", "score": 100 * cos,
                                    "logit": 100 * cos}, separators=(",", ":")) + "\n")
        paths.append(path)
    return paths


def timed(cmd, **kwargs):
    start = time.monotonic()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kwargs)
    return time.monotonic() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--shards", type=int, default=16)
    parser.add_argument("--images", type=int, default=48)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="prefscore_scale_out.")
    try:
        paths = write_synthetic_shards(work, args.items, args.shards)
        out = os.path.join(work, "merged.jsonl")
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        seconds = timed([BIN, "merge", out] + paths)
        rss_mb = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
        size_mb = os.path.getsize(out) / 2**20
        print(f"merge: {args.items} items from {args.shards} shards in {seconds:.1f} s "
              f"({args.items / seconds:,.0f} items/s), output {size_mb:.0f} MiB, "
              f"peak RSS {rss_mb:.0f} MiB")
        for p in paths:
            os.remove(p)

        images = os.path.join(work, "images")
        os.mkdir(images)
        inputs = os.path.join(ROOT, "tests/data/pipeline/inputs")
        names = sorted(n for n in os.listdir(inputs) if not n.endswith(".json"))
        for k in range(args.images):
            name = names[k % len(names)]
            shutil.copy(os.path.join(inputs, name), os.path.join(images, f"{k:04d}_{name}"))
        for processes in range(1, args.processes + 1):
            start = time.monotonic()
            running = [subprocess.Popen(
                [BIN, "score", *TINY, "--threads", "1", "-p", "a photo", images,
                 "--shard", f"{i}/{processes}", "-o", os.path.join(work, f"s{processes}_{i}.jsonl")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for i in range(processes)]
            for p in running:
                p.wait()
            seconds = time.monotonic() - start
            print(f"{processes} shard process(es): {args.images} images in {seconds:.1f} s "
                  f"({args.images / seconds:.1f} images/s, tiny model, 1 thread each)")
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    sys.exit(main())
