"""The shared loop of convert_hpdv2.py and convert_imagereward.py: an official test.json (a JSON
list of per-prompt rankings) -> prefscore's rankings JSONL + images/.

Output rows: {"prompt_id": str, "prompt": str, "images": ["images/<path as in test.json>", ...],
"human_rank": [int, ...]}, one per prompt, in test.json's order; the image paths keep test.json's
relative paths under images/, so names that repeat in different folders cannot collide.
"""
import argparse
import json
import os

from testsplit_io import ConvertError, ImageStore, Report, safe_relative_path, write_jsonl_atomic


class Layout:
    """Where one source keeps its fields (names checked against the official code)."""

    def __init__(self, images_key, rank_key, min_rank, prompt_id):
        self.images_key = images_key  # list of image paths relative to the image folder
        self.rank_key = rank_key  # list of ints, same length, smaller = preferred
        self.min_rank = min_rank  # the smallest rank value that is valid
        self.prompt_id = prompt_id  # (index, item) -> str, or raises ValueError


def load_items(path):
    try:
        with open(path, encoding="utf-8") as f:
            items = json.load(f)
    except OSError as e:
        raise ConvertError(path, f"cannot read ({e.strerror})")
    except UnicodeDecodeError as e:
        raise ConvertError(path, f"not UTF-8 ({e.reason} at byte {e.start})")
    except json.JSONDecodeError as e:
        raise ConvertError(path, f"not valid JSON ({e.msg} at line {e.lineno} column {e.colno})")
    if not isinstance(items, list):
        raise ConvertError(path, f"expected a JSON list of prompts, got a {type(items).__name__}")
    return items


def convert_item(index, item, layout, image_dir, images, link, seen_ids):
    """The rankings row of one test.json entry; raises ValueError(why) for a bad entry."""
    if not isinstance(item, dict):
        raise ValueError(f"expected an object, got {type(item).__name__}")
    prompt = item.get("prompt")
    if not isinstance(prompt, str):
        raise ValueError("\"prompt\" is missing or not a string")
    paths = item.get(layout.images_key)
    ranks = item.get(layout.rank_key)
    if not isinstance(paths, list) or len(paths) < 2:
        raise ValueError(f"\"{layout.images_key}\" must be a list of at least 2 image paths, got "
                         f"{json.dumps(paths)[:80]}")
    if not isinstance(ranks, list) or len(ranks) != len(paths):
        raise ValueError(f"\"{layout.rank_key}\" must be a list of {len(paths)} ints (one per "
                         f"image), got {json.dumps(ranks)[:80]}")
    for r in ranks:
        if isinstance(r, bool) or not isinstance(r, int) or r < layout.min_rank:
            raise ValueError(f"\"{layout.rank_key}\" must hold ints >= {layout.min_rank}, got "
                             f"{json.dumps(ranks)[:80]}")
    relative = []
    for p in paths:
        rel = safe_relative_path(p)
        if rel is None:
            raise ValueError(f"image path {json.dumps(p)[:80]} is not a relative path inside the "
                             "image folder")
        relative.append(rel)
    if len(set(relative)) != len(relative):
        raise ValueError("the same image is listed twice")
    prompt_id = layout.prompt_id(index, item)
    if prompt_id in seen_ids:
        raise ValueError(f"prompt id {prompt_id!r} repeats an earlier entry")
    # Every image is checked before any is placed, so a skipped entry leaves no files behind.
    sources = [os.path.join(image_dir, *rel.split("/")) for rel in relative]
    for source in sources:
        if not os.path.isfile(source):
            raise ValueError(f"image {source} does not exist")
    for rel, source in zip(relative, sources):
        why = images.put_file(rel, source, link)
        if why is not None:
            raise ValueError(why)
    return {"prompt_id": prompt_id, "prompt": prompt,
            "images": [f"images/{rel}" for rel in relative], "human_rank": list(ranks)}


def convert(prog, test_json, image_dir, out_dir, jsonl_name, link, layout):
    """Converts every entry of test_json; returns the exit code."""
    items = load_items(test_json)
    if not os.path.isdir(image_dir):
        raise ConvertError(image_dir, "image folder does not exist (see --images)")
    images = ImageStore(out_dir)
    report = Report(prog)
    rows = []
    seen_ids = set()
    for index, item in enumerate(items):
        try:
            row = convert_item(index, item, layout, image_dir, images, link, seen_ids)
        except ValueError as e:
            report.skip(f"{test_json}[{index}]", str(e))
            continue
        seen_ids.add(row["prompt_id"])
        rows.append(row)
    out_path = os.path.join(out_dir, jsonl_name)
    write_jsonl_atomic(out_path, rows)
    n_images = sum(len(r["images"]) for r in rows)
    print(f"{out_path}: {len(rows)} prompts, {n_images} images ({images.written} "
          f"{'linked' if link else 'copied'}, {images.kept} already there), "
          f"{report.skipped} skipped")
    return report.exit_code()


def command_line(prog, doc, layout, test_json_help, images_help, default_images):
    """The command line the ranking converters share: parses it, converts, returns the exit code.
    `default_images` is the image folder's name beside test.json."""
    parser = argparse.ArgumentParser(
        prog=prog, description=doc.split("\n\n")[0],
        epilog="Exit status: 0 ok; 1 fatal error; 2 usage; 3 done, entries skipped.")
    parser.add_argument("test_json", help=test_json_help)
    parser.add_argument("--images", help=f"{images_help} (default: {default_images}/ beside "
                                         "test.json)")
    parser.add_argument("--out", required=True, help="output folder (created if needed); "
                                                     "required, no default")
    parser.add_argument("--jsonl", default="rankings.jsonl",
                        help="name of the JSONL file in --out (default: rankings.jsonl)")
    parser.add_argument("--link", action="store_true",
                        help="symlink the images instead of copying them (default: copy)")
    args = parser.parse_args()
    images = args.images or os.path.join(os.path.dirname(os.path.abspath(args.test_json)),
                                         default_images)
    return convert(prog, args.test_json, images, args.out, args.jsonl, args.link, layout)
