#!/usr/bin/env python3
"""Convert Pick-a-Pic v1 / v2 parquet files (Hugging Face hub) to prefscore's pairs JSONL + images.

Input: the parquet files of one split as published (yuvalkirstain/pickapic_v1 or pickapic_v2; the
official evaluation uses `validation_unique` and `test_unique`, 500 rows each). Columns read
(names and types from the dataset card): caption (string), jpg_0 / jpg_1 (binary: the JPEG bytes),
image_0_uid / image_1_uid (string), label_0 / label_1 (float64: 1/0, 0/1 or 0.5/0.5), and has_label
(bool) with --only-with-label. Other columns (created_at, model_0, ranking_id, ...) are ignored.

Rows kept: every row, as PickScore's trainer/scripts/eval_preference_predictor.py (commit
f79607f) evaluates every row of validation_unique / test_unique with no filter; its get_label()
maps label_0 == 0.5 to "tie", label_0 == 1 to "0", anything else to "1". Here a row whose
(label_0, label_1) is not one of (1, 0), (0, 1), (0.5, 0.5), or whose caption, uid or image is
missing, is reported on stderr as 'FILE:row N' (0-based within the file), skipped, and the run
exits 3. --only-with-label drops rows whose has_label is not true, as PickScore's training-time
dataset does for non-train splits (clip_hf_dataset.py keep_only_with_label_in_non_train); dropped
rows are counted, not errors.

Output, in --out DIR:
  pairs.jsonl   one row per pair: {"pair_id": "<split>/<n>", "split": "validation"|"test",
                "prompt": caption, "image_0": "images/<uid>.jpg", "image_1": "images/<uid>.jpg",
                "label": "0"|"1"|"tie"}; n counts the rows of this run's input files in order
                (skipped rows included, so ids are stable). Rows of the other split already in
                pairs.jsonl are kept (first, in their order) and rows of this split are replaced, so
                running once per split builds one file. Written atomically.
  images/       <uid>.jpg holding the bytes exactly as stored in the parquet file (not
                re-encoded); each uid is written once, and a uid whose bytes differ from those
                already written is a bad row.

Parquet reading: pyarrow when it is importable (--parquet-reader auto), else scripts/parquet_lite.py
(pure Python; Debian 12 has no python3-pyarrow).

Usage:
  python3 scripts/convert_pickapic.py validation_unique-*.parquet --split validation --out DIR
  python3 scripts/convert_pickapic.py test_unique-*.parquet --split test --out DIR
Exit status: 0 ok; 1 fatal error (one line on stderr); 2 usage; 3 done, rows skipped.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import parquet_lite  # noqa: E402
from testsplit_io import (ConvertError, ImageStore, Report, read_jsonl, run,  # noqa: E402
                          safe_file_name, write_jsonl_atomic)

PROG = "convert_pickapic.py"
REQUIRED_COLUMNS = ["caption", "jpg_0", "jpg_1", "image_0_uid", "image_1_uid", "label_0",
                    "label_1"]
SPLITS = {"validation": "validation", "validation_unique": "validation", "test": "test",
          "test_unique": "test"}
# (label_0, label_1) -> label, as PickScore's get_label() names them.
LABELS = {(1.0, 0.0): "0", (0.0, 1.0): "1", (0.5, 0.5): "tie"}


def read_parquet(path, columns, reader):
    """{column: [values]} for the named columns of one parquet file."""
    use_pyarrow = reader == "pyarrow"
    if reader == "auto":
        try:
            import pyarrow.parquet  # noqa: F401
            use_pyarrow = True
        except ImportError:
            use_pyarrow = False
    if not use_pyarrow:
        table, _ = parquet_lite.read_columns(path, columns)
        return table
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ConvertError(path, "--parquet-reader pyarrow, but pyarrow is not installed")
    try:
        names = pq.ParquetFile(path).schema_arrow.names
    except Exception as e:  # pyarrow raises several types for an unreadable file
        raise ConvertError(path, f"cannot read as parquet ({str(e).splitlines()[0]})")
    missing = [c for c in columns if c not in names]
    if missing:
        raise ConvertError(path, f"no column '{missing[0]}' (columns: {', '.join(names)})")
    try:
        return pq.read_table(path, columns=columns).to_pydict()
    except Exception as e:
        raise ConvertError(path, f"cannot read as parquet ({str(e).splitlines()[0]})")


def text(value):
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return value


def convert_row(table, i, split, pair_id, images):
    """The pairs.jsonl row of table row i; raises ValueError(why) for a bad row."""
    caption = text(table["caption"][i])
    if not isinstance(caption, str):
        raise ValueError("caption is missing")
    row = {"pair_id": pair_id, "split": split, "prompt": caption}
    uids = []
    for side in ("0", "1"):
        uid = text(table[f"image_{side}_uid"][i])
        if not safe_file_name(uid):
            raise ValueError(f"image_{side}_uid {uid!r} is missing or not usable as a file name")
        data = table[f"jpg_{side}"][i]
        if isinstance(data, dict):  # datasets' Image feature as {"bytes", "path"}
            data = data.get("bytes")
        if not isinstance(data, (bytes, bytearray)) or not data:
            raise ValueError(f"jpg_{side} is missing or empty")
        uids.append((uid, bytes(data)))
    labels = (table["label_0"][i], table["label_1"][i])
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in labels):
        raise ValueError(f"label_0/label_1 = {labels[0]!r}/{labels[1]!r}, expected numbers")
    label = LABELS.get((float(labels[0]), float(labels[1])))
    if label is None:
        raise ValueError(f"label_0/label_1 = {labels[0]!r}/{labels[1]!r}, expected 1/0, 0/1 or "
                         "0.5/0.5")
    for side, (uid, data) in zip(("0", "1"), uids):
        why = images.put_bytes(f"{uid}.jpg", data)
        if why is not None:
            raise ValueError(f"image_{side}_uid {uid}: {why}")
        row[f"image_{side}"] = f"images/{uid}.jpg"
    row["label"] = label
    return row


def main():
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__.split("\n\n")[0],
        epilog="Exit status: 0 ok; 1 fatal error; 2 usage; 3 done, rows skipped.")
    parser.add_argument("parquet", nargs="+", help="parquet files of one split, read in order")
    parser.add_argument("--split", required=True, choices=sorted(SPLITS),
                        help="the split these files hold (validation_unique/test_unique are "
                             "written as validation/test); required, no default")
    parser.add_argument("--out", required=True,
                        help="output folder for pairs.jsonl and images/ (created if needed); "
                             "required, no default")
    parser.add_argument("--only-with-label", action="store_true",
                        help="drop rows whose has_label is not true (default: keep every row, as "
                             "PickScore's eval script does)")
    parser.add_argument("--parquet-reader", choices=["auto", "pyarrow", "lite"], default="auto",
                        help="parquet reader (default: auto = pyarrow if importable, else "
                             "scripts/parquet_lite.py)")
    args = parser.parse_args()

    split = SPLITS[args.split]
    columns = REQUIRED_COLUMNS + (["has_label"] if args.only_with_label else [])
    out_path = os.path.join(args.out, "pairs.jsonl")
    kept_rows = [r for r in read_jsonl(out_path) if r.get("split") != split]
    images = ImageStore(args.out)
    report = Report(PROG)
    rows = []
    dropped = 0
    n = 0
    for path in args.parquet:
        table = read_parquet(path, columns, args.parquet_reader)
        for i in range(len(table["caption"])):
            pair_id = f"{split}/{n}"
            n += 1
            if args.only_with_label and table["has_label"][i] is not True:
                dropped += 1
                continue
            try:
                rows.append(convert_row(table, i, split, pair_id, images))
            except (ValueError, UnicodeDecodeError) as e:
                report.skip(f"{path}:row {i}", str(e))
    write_jsonl_atomic(out_path, kept_rows + rows)
    ties = sum(1 for r in rows if r["label"] == "tie")
    print(f"{out_path}: {len(rows)} {split} pairs ({ties} ties) from {len(args.parquet)} file(s), "
          f"{len(kept_rows)} rows of other splits kept; images: {images.written} written, "
          f"{images.kept} already there; {dropped} dropped (has_label), {report.skipped} skipped")
    return report.exit_code()


if __name__ == "__main__":
    sys.exit(run(PROG, main))
