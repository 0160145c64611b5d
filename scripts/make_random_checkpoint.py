#!/usr/bin/python3
"""Writes a random open_clip-layout CLIP checkpoint (safetensors, float32) with the dims of a model
card, streaming one tensor at a time: full-size ViT-H/14 timings need no download. The tensor
names and init follow bench/bench_clip.cpp (N(0, 0.02^2), layer-norm weights 1).

Usage: /usr/bin/python3 scripts/make_random_checkpoint.py models/clip-h.json OUT.safetensors
"""
import json
import struct
import sys

import numpy as np


def tensors(a):
    out = []

    def blocks(prefix, layers, w, mlp):
        for i in range(layers):
            p = f"{prefix}transformer.resblocks.{i}."
            out.extend([
                (p + "ln_1.weight", [w]), (p + "ln_1.bias", [w]),
                (p + "attn.in_proj_weight", [3 * w, w]), (p + "attn.in_proj_bias", [3 * w]),
                (p + "attn.out_proj.weight", [w, w]), (p + "attn.out_proj.bias", [w]),
                (p + "ln_2.weight", [w]), (p + "ln_2.bias", [w]),
                (p + "mlp.c_fc.weight", [mlp, w]), (p + "mlp.c_fc.bias", [mlp]),
                (p + "mlp.c_proj.weight", [w, mlp]), (p + "mlp.c_proj.bias", [w]),
            ])

    vw, tw = a["vision_width"], a["text_width"]
    grid = a["image_size"] // a["patch_size"]
    out.append(("visual.conv1.weight", [vw, 3, a["patch_size"], a["patch_size"]]))
    out.append(("visual.class_embedding", [vw]))
    out.append(("visual.positional_embedding", [grid * grid + 1, vw]))
    out.extend([("visual.ln_pre.weight", [vw]), ("visual.ln_pre.bias", [vw])])
    blocks("visual.", a["vision_layers"], vw, int(vw * a["mlp_ratio"]))
    out.extend([("visual.ln_post.weight", [vw]), ("visual.ln_post.bias", [vw])])
    out.append(("visual.proj", [vw, a["embed_dim"]]))
    out.append(("token_embedding.weight", [a["vocab_size"], tw]))
    out.append(("positional_embedding", [a["context_length"], tw]))
    blocks("", a["text_layers"], tw, int(tw * a["mlp_ratio"]))
    out.extend([("ln_final.weight", [tw]), ("ln_final.bias", [tw])])
    out.append(("text_projection", [tw, a["embed_dim"]]))
    out.append(("logit_scale", []))
    return out


def main():
    card, path = sys.argv[1], sys.argv[2]
    arch = json.load(open(card))["architecture"]
    specs = tensors(arch)
    header, offset = {}, 0
    for name, shape in specs:
        n = int(np.prod(shape)) if shape else 1
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + 4 * n]}
        offset += 4 * n
    text = json.dumps(header, separators=(",", ":"))
    text += " " * ((8 - (8 + len(text)) % 8) % 8)
    rng = np.random.default_rng(0)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text.encode())
        for name, shape in specs:
            if "ln_" in name and name.endswith(".weight"):
                t = np.ones(shape, dtype=np.float32)
            elif name == "logit_scale":
                t = np.array(np.log(100.0), dtype=np.float32)
            else:
                t = (rng.standard_normal(shape, dtype=np.float32) * np.float32(0.02))
            f.write(np.ascontiguousarray(t, dtype="<f4").tobytes())


if __name__ == "__main__":
    main()
