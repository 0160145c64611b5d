#!/usr/bin/env python3
"""Convert the HPD v2 test split (HPSv2's test.json + test/ images) to prefscore's rankings JSONL.

Input layout, as HPSv2 (tgxs002/HPSv2, commit 866735e) reads it: test.json is a JSON list with one
entry per prompt, {"prompt": str, "image_path": [str, ...], "rank": [int, ...],
"raw_annotations": [...]} (README "Data Structure"; hpsv2/src/training/data.py RankingDataset
reads the columns 'image_path', 'rank', 'prompt'). The image paths are relative to the image
folder (evaluation.py joins them onto --image-path; the release unpacks them into test/ beside
test.json, the default of --images here). raw_annotations is not used.

What `rank` means: evaluation.py evaluate_rank() ranks the model's scores with
argsort(-scores), so the model's rank 0 is its highest score, and compares that ranking with
`rank` by train.py inversion_score(), which counts a pair as wrong when the two rankings order it
oppositely. So a smaller `rank` is a more preferred image. It is passed through unchanged as
human_rank (the fixture and prefscore's eval use 0 = best; HPSv2's README calls it the averaged
ranking, list[int]). Not verified from stored sources: whether the released file's ranks start
at 0 or at 1 (no copy of the real test.json was available); the metric depends only on their
order, so either works. Ranks must be ints >= 0.

Entries kept: every entry. HPSv2's RankingDataset silently substitutes the next entry when an
image cannot be opened; here such an entry (missing image, lengths that differ, fewer than 2
images, non-integer ranks, an image path outside the image folder) is reported on stderr as
'test.json[i]', skipped, and the run exits 3.

Output, in --out DIR: rankings.jsonl (--jsonl) with rows {"prompt_id": "<index in test.json>",
"prompt", "images": ["images/<image_path>", ...], "human_rank": rank}, and images/<image_path>
copied (or symlinked with --link). Written atomically; re-running over the same folder is fine.

Usage: python3 scripts/convert_hpdv2.py HPD/test.json --out DIR [--images HPD/test] [--link]
Exit status: 0 ok; 1 fatal error (one line on stderr); 2 usage; 3 done, entries skipped.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from rankings_split import Layout, command_line  # noqa: E402
from testsplit_io import run  # noqa: E402

PROG = "convert_hpdv2.py"
LAYOUT = Layout(images_key="image_path", rank_key="rank", min_rank=0,
                prompt_id=lambda index, item: str(index))


def main():
    return command_line(PROG, __doc__, LAYOUT, test_json_help="HPD v2 test.json",
                        images_help="folder the image_path entries are relative to", default_images="test")


if __name__ == "__main__":
    sys.exit(run(PROG, main))
