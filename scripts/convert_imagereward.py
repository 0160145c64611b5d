#!/usr/bin/env python3
"""Convert the ImageReward test set (data/test.json + its images) to prefscore's rankings JSONL.

Input layout, checked against THUDM/ImageReward (commit c1392c6) data/test.json and test.py: a
JSON list of 466 entries {"id": str, "prompt": str, "generations": [str, ...] (image paths relative
to the image folder, test.py's --img_prefix, default data/test_images), "ranking": [int, ...]}.
`ranking` is 1 = best, with ties (e.g. [1, 1, 2, 2, 3, 3, 4]): test.py acc() counts a pair as right
when the image with the larger ranking gets the smaller reward. It is passed through unchanged as
human_rank. (HPSv2's evaluation reads the same fields from ImageReward_test.json.)

Entries kept: every entry; one with a missing image, lengths that differ, fewer than 2 images,
ranks that are not ints >= 1, a repeated id or an image path outside the image folder is
reported on stderr as 'test.json[i]', skipped, and the run exits 3.

Output, in --out DIR: rankings.jsonl (--jsonl) with rows {"prompt_id": id, "prompt",
"images": ["images/<generation path>", ...], "human_rank": ranking}, and images/<generation path>
copied (or symlinked with --link), e.g. images/part-005658/images/0040/<uuid>.webp. Written
atomically; re-running over the same folder is fine.

Usage: python3 scripts/convert_imagereward.py data/test.json --out DIR [--images data/test_images]
Exit status: 0 ok; 1 fatal error (one line on stderr); 2 usage; 3 done, entries skipped.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from rankings_split import Layout, command_line  # noqa: E402
from testsplit_io import run  # noqa: E402

PROG = "convert_imagereward.py"


def prompt_id(index, item):
    value = item.get("id")
    if not isinstance(value, str) or not value:
        raise ValueError("\"id\" is missing or not a non-empty string")
    return value


LAYOUT = Layout(images_key="generations", rank_key="ranking", min_rank=1, prompt_id=prompt_id)


def main():
    return command_line(PROG, __doc__, LAYOUT, test_json_help="ImageReward data/test.json",
                        images_help="folder the generations paths are relative to", default_images="test_images")


if __name__ == "__main__":
    sys.exit(run(PROG, main))
