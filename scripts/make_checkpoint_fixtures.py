#!/usr/bin/env python3
"""Write the tiny fixture weights in the official PICKLED formats into OUT_DIR, for the converter
test (tests/test_convert.cpp runs this first, into a temporary folder, so the repository does not
carry three more copies of the same weights). Needs Debian's python3-torch:
    /usr/bin/python3 scripts/make_checkpoint_fixtures.py OUT_DIR

- hps_tiny.pt: {'epoch', 'name', 'state_dict'} as hpsv2/img_score.py loads it
  (`checkpoint['state_dict']`), open_clip keys, float16.
- pickscore_tiny.bin: a plain state dict, as transformers saves pytorch_model.bin (PickScore_v1,
  CLIPModel keys), float16 to keep the file small.
- mps_tiny.pth: a WHOLE pickled model, like MPS_overall_checkpoint.pth: an object of class
  trainer.models.clip_model.CLIPModel whose submodules are instances of classes from
  trainer.models.* and transformers.* modules that only exist while this script runs, float16
  (the release is fp16), plus a non-persistent buffer that state_dict() must leave out.
The source tensors are tests/data/models/{openclip,hf,mps}/*.safetensors.
"""
import json
import os
import struct
import sys
import types

import torch
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DTYPES = {"F32": torch.float32, "F16": torch.float16, "I64": torch.int64}


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        buf = bytearray(raw[8 + n + begin:8 + n + end])
        out[name] = torch.frombuffer(buf, dtype=DTYPES[info["dtype"]]).reshape(info["shape"]).clone()
    return out


def fake_class(module_name, class_name):
    """A class that pickles as module_name.class_name, a module that exists only here."""
    parts = module_name.split(".")
    for i in range(1, len(parts) + 1):  # pickle imports the parent packages too
        name = ".".join(parts[:i])
        if name not in sys.modules:
            sys.modules[name] = types.ModuleType(name)
            if i > 1:
                setattr(sys.modules[".".join(parts[:i - 1])], parts[i - 1], sys.modules[name])
    module = sys.modules[module_name]
    if not hasattr(module, class_name):
        setattr(module, class_name, type(class_name, (nn.Module,), {"__module__": module_name}))
    return getattr(module, class_name)


def build_model(tensors):
    """A module tree whose state_dict() has exactly these keys (norm.bias and inv_freq as
    persistent buffers, as in MPS's cross_modeling.py)."""
    root = fake_class("trainer.models.clip_model", "CLIPModel")()
    for key, value in tensors.items():
        *path, leaf = key.split(".")
        module = root
        for depth, part in enumerate(path):
            if part not in module._modules:
                if depth == 0 and part == "model":
                    cls = fake_class("trainer.models.clip_model", "XCLIPModel")
                elif depth == 0 and part == "cross_model":
                    cls = fake_class("trainer.models.cross_modeling", "Cross_model")
                else:
                    cls = fake_class("transformers.models.clip.modeling_clip", "CLIPSubmodule")
                module.add_module(part, cls())
            module = module._modules[part]
        if leaf in ("inv_freq",) or (leaf == "bias" and path[-1] == "norm"):
            module.register_buffer(leaf, value.clone())
        else:
            module.register_parameter(leaf, nn.Parameter(value.clone(), requires_grad=False))
    # ParallelTransformerBlock keeps its rotary cache as a non-persistent buffer.
    block = root.cross_model._modules["layers"]._modules["0"]._modules["1"]._modules["fn"]
    block.register_buffer("pos_emb", torch.zeros(3, 8), persistent=False)
    return root


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    OUT = sys.argv[1]
    os.makedirs(OUT, exist_ok=True)
    hps = read_safetensors(os.path.join(ROOT, "tests/data/models/openclip/open_clip_model.safetensors"))
    torch.save({"epoch": 1, "name": "tiny-hps", "state_dict": {k: v.half() for k, v in hps.items()}},
               os.path.join(OUT, "hps_tiny.pt"))
    hf = read_safetensors(os.path.join(ROOT, "tests/data/models/hf/model.safetensors"))
    torch.save({k: v.half() for k, v in hf.items()}, os.path.join(OUT, "pickscore_tiny.bin"))
    mps = read_safetensors(os.path.join(ROOT, "tests/data/models/mps/mps_model.safetensors"))
    model = build_model(mps).half()
    assert sorted(model.state_dict()) == sorted(mps), "module tree does not reproduce the keys"
    torch.save(model, os.path.join(OUT, "mps_tiny.pth"))
    print("wrote", os.listdir(OUT))


if __name__ == "__main__":
    main()
