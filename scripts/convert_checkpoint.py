#!/usr/bin/env python3
"""Convert an official pickled PyTorch checkpoint to safetensors, re-saving tensors only.

Handles the checkpoints prefscore's model cards name:
  - HPS v2 / v2.1 (HPS_v2_compressed.pt, HPS_v2.1_compressed.pt): a dict whose 'state_dict' holds
    open_clip keys (a 'module.' prefix from DataParallel is removed);
  - MPS (MPS_overall_checkpoint.pth): a whole pickled model object (Kwai-Kolors/MPS
    trainer.models.clip_model.CLIPModel). Its classes need NOT be importable: unknown classes are
    unpickled as inert stand-ins and the state_dict is rebuilt from their parameters and
    persistent buffers, with the same key names as MPS's own state_dict() (model.*, cross_model.*);
  - transformers pytorch_model.bin (PickScore): a plain state dict.

Nothing is renamed or transposed: the C++ loader maps the official key names itself
(src/layouts/). Nothing is cast either, unless `--dtype bf16` is given: then every floating-point
tensor is stored as bfloat16 (round to nearest even, as prefscore's own conversion at load), the
dtype `--precision bf16|int8` computes in, so that prefscore maps it without converting (ViT-H:
the first load 6-8 s instead of 13-15 s here; later loads map packed weights cached by the
first either way). Such a file has its own sha256: use it with
`--weights FILE` or a copy of the card naming that digest; fp32 scores from it are not the
official fp32 scores. Prints the output's sha256 (for a model card) when done. Needs Debian's
python3-torch (`apt-get install python3-torch`); no network.

Usage: python3 scripts/convert_checkpoint.py [--dtype bf16] INPUT.pt OUTPUT.safetensors
"""
import argparse
import collections
import hashlib
import json
import os
import importlib.abc
import importlib.machinery
import struct
import sys
import tempfile
import types

import torch

DTYPES = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
    torch.uint8: "U8", torch.bool: "BOOL",
}


class _StandIn:
    """Any class whose module cannot be imported: keeps whatever state pickle gives it."""

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        if isinstance(state, tuple) and len(state) == 2:  # (dict state, slot state)
            state = {**(state[0] or {}), **(state[1] or {})}
        if isinstance(state, dict):
            self.__dict__.update(state)

    def __call__(self, *args, **kwargs):  # stands in for functions referenced by the pickle too
        return _StandIn()


class _StandInModule(types.ModuleType):
    """A module that does not exist here: every class it is asked for is a stand-in."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        cls = type(name, (_StandIn,), {"__module__": self.__name__})
        setattr(self, name, cls)
        return cls


class _StandInFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Last on sys.meta_path while a checkpoint loads: modules nobody else can import (MPS's
    trainer.*, a transformers version not installed) become _StandInModules. (torch.load's
    pickle_module argument cannot do this: Debian's torch 1.13 ignores it.)"""

    def find_spec(self, fullname, path, target=None):
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec):
        module = _StandInModule(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module):
        pass


def _module_state_dict(obj, prefix, out):
    """state_dict() of an nn.Module or of a stand-in with the same attributes."""
    params = getattr(obj, "_parameters", None) or {}
    buffers = getattr(obj, "_buffers", None) or {}
    non_persistent = getattr(obj, "_non_persistent_buffers_set", set()) or set()
    for name, value in params.items():
        if value is not None:
            out[prefix + name] = value.detach()
    for name, value in buffers.items():
        if value is not None and name not in non_persistent:
            out[prefix + name] = value.detach()
    for name, child in (getattr(obj, "_modules", None) or {}).items():
        if child is not None:
            _module_state_dict(child, prefix + name + ".", out)


def load_state_dict(path):
    finder = _StandInFinder()
    sys.meta_path.append(finder)
    try:
        obj = torch.load(path, map_location="cpu")
    finally:
        sys.meta_path.remove(finder)
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if isinstance(obj, dict):
        tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
        if not tensors:
            raise SystemExit(f"{path}: no tensors in the checkpoint's dict")
        if all(k.startswith("module.") for k in tensors):
            tensors = {k[len("module."):]: v for k, v in tensors.items()}
        return tensors
    if hasattr(obj, "_modules") or hasattr(obj, "_parameters"):
        out = collections.OrderedDict()
        _module_state_dict(obj, "", out)
        if not out:
            raise SystemExit(f"{path}: the pickled model holds no parameters")
        return out
    raise SystemExit(f"{path}: not a state dict, a {{'state_dict': ...}} dict or a pickled model "
                     f"(got {type(obj).__name__})")


def write_safetensors(tensors, path, metadata):
    header = {"__metadata__": metadata}
    blobs, offset = [], 0
    # Widest dtypes first so every tensor starts aligned to its element size.
    for name in sorted(tensors, key=lambda k: -tensors[k].element_size()):
        t = tensors[name].contiguous()
        if t.dtype not in DTYPES:
            raise SystemExit(f"{name}: dtype {t.dtype} cannot be stored in safetensors")
        data = t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.view(torch.int16).numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * ((8 - (8 + len(raw)) % 8) % 8)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=os.path.basename(path) + ".tmp.")
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in [struct.pack("<Q", len(raw)), raw, *blobs]:
                f.write(chunk)
                digest.update(chunk)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return digest.hexdigest()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("input", help="official checkpoint (.pt, .pth, .bin)")
    parser.add_argument("output", help="safetensors file to write (atomically)")
    parser.add_argument("--dtype", choices=["keep", "bf16"], default="keep",
                        help="keep the checkpoint's dtypes (default), or store floating-point "
                             "tensors as bfloat16 for prefscore's bf16/int8 precisions")
    args = parser.parse_args()
    if not os.path.isfile(args.input):
        raise SystemExit(f"{args.input}: no such file")
    tensors = load_state_dict(args.input)
    metadata = {"format": "pt", "converted_from": os.path.basename(args.input)}
    if args.dtype == "bf16":
        tensors = {k: v.to(torch.bfloat16) if v.is_floating_point() else v
                   for k, v in tensors.items()}
        metadata["dtype"] = "bf16"
    sha = write_safetensors(tensors, args.output, metadata)
    print(f"{args.output}: {len(tensors)} tensors, sha256 {sha}")


if __name__ == "__main__":
    sys.exit(main())
