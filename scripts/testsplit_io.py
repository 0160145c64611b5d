"""Shared plumbing of the scripts/convert_<source>.py test-split converters.

Each converter writes one JSONL file (UTF-8, one JSON object per line, image paths relative to the
JSONL file's folder) and an images/ folder beside it, the inputs of `prefscore eval pairs|rankings
--model M`. This module holds what they share, following prefscore's conventions (STYLE.md §3):
  - one-line errors 'path: reason' (ConvertError), exit 1;
  - a bad item among many is reported on stderr, skipped and counted (Report), exit 3 at the end;
  - outputs written atomically (a temporary file in the same folder, then os.replace), so an
    interrupted run never leaves a half-written JSONL file or image behind.
"""
import filecmp
import json
import os
import re
import shutil
import sys
import tempfile

EXIT_OK, EXIT_FATAL, EXIT_USAGE, EXIT_SKIPPED = 0, 1, 2, 3


class ConvertError(Exception):
    """A fatal error: str() is 'path: reason'."""

    def __init__(self, path, reason):
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class Report:
    """Counts and prints the skipped items of one run."""

    def __init__(self, prog):
        self.prog = prog
        self.skipped = 0

    def skip(self, where, reason):
        self.skipped += 1
        print(f"{self.prog}: skipped {where}: {reason}", file=sys.stderr)

    def exit_code(self):
        return EXIT_SKIPPED if self.skipped else EXIT_OK


def run(prog, main):
    """Calls main() -> exit code; turns the fatal errors into one line on stderr and exit 1."""
    from parquet_lite import ParquetError  # scripts/ is on sys.path when a converter runs

    try:
        return main()
    except (ConvertError, ParquetError) as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return EXIT_FATAL


def _atomic_write(path, write):
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_jsonl_atomic(path, rows):
    def write(f):
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False).encode("utf-8") + b"\n")

    try:
        _atomic_write(path, write)
    except OSError as e:
        raise ConvertError(path, f"cannot write ({e.strerror})")


def read_jsonl(path):
    """The rows of an existing JSONL file (for merging); [] when it does not exist."""
    if not os.path.exists(path):
        return []
    rows = []
    try:
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as e:
                    raise ConvertError(f"{path}:{number}", f"not valid JSON ({e.msg}); remove the "
                                                           "file or choose another --out")
                if not isinstance(row, dict):
                    raise ConvertError(f"{path}:{number}", "expected a JSON object per line")
                rows.append(row)
    except (OSError, UnicodeDecodeError) as e:
        raise ConvertError(path, f"cannot read ({e})")
    return rows


_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def safe_file_name(name):
    """True when `name` can be a file name as it is (no separators, no leading dot)."""
    return isinstance(name, str) and len(name) <= 200 and bool(_SAFE_NAME.match(name))


def safe_relative_path(path):
    """The '/'-separated relative path, or None when `path` is absolute or climbs out with '..'."""
    if not isinstance(path, str) or not path or "\\" in path or "\0" in path:
        return None
    if path.startswith("/"):
        return None
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts):
        return None
    return "/".join(parts)


class ImageStore:
    """The images/ folder beside a JSONL file: each relative path is written once."""

    def __init__(self, out_dir):
        self.root = os.path.join(out_dir, "images")
        self.written = 0  # new files
        self.kept = 0  # already there with the same content

    def _dest(self, relative):
        return os.path.join(self.root, *relative.split("/"))

    def put_bytes(self, relative, data):
        """Stores `data` as images/<relative>; returns None, or why it cannot (a different file
        is already there)."""
        dest = self._dest(relative)
        if os.path.lexists(dest):
            try:
                with open(dest, "rb") as f:
                    same = f.read() == data
            except OSError as e:
                return f"cannot read the existing {dest} ({e.strerror})"
            if not same:
                return f"{dest} already holds different bytes for this image"
            self.kept += 1
            return None
        try:
            _atomic_write(dest, lambda f: f.write(data))
        except OSError as e:
            raise ConvertError(dest, f"cannot write ({e.strerror})")
        self.written += 1
        return None

    def put_file(self, relative, source, link):
        """Copies (or, with link, symlinks) `source` to images/<relative>; returns None, or why
        it cannot."""
        dest = self._dest(relative)
        if not os.path.isfile(source):
            return f"image {source} does not exist"
        if os.path.lexists(dest):
            try:
                same = os.path.exists(dest) and filecmp.cmp(dest, source, shallow=False)
            except OSError as e:
                return f"cannot compare {dest} with {source} ({e.strerror})"
            if not same:
                return f"{dest} already holds a different file"
            self.kept += 1
            return None
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        tmp = os.path.join(os.path.dirname(dest), f".tmp-{os.getpid()}-{os.path.basename(dest)}")
        try:
            if link:
                os.symlink(os.path.abspath(source), tmp)
            else:
                shutil.copyfile(source, tmp)
            os.replace(tmp, dest)
        except OSError as e:
            if os.path.lexists(tmp):
                os.unlink(tmp)
            raise ConvertError(dest, f"cannot {'link' if link else 'copy'} {source} ({e.strerror})")
        self.written += 1
        return None
