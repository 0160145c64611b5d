#!/usr/bin/env python3
"""The work of `prefscore bench --synthetic` done by the official Python stack, for a side-by-side
ratio: the CLIP image tower of a model card's dims with random weights, batch after batch, in
PyTorch eager mode, fp32 and/or bf16 (the model cast with .to(torch.bfloat16), as users do).

The tower is open_clip's own VisionTransformer when open_clip is importable, else transformers'
CLIPVisionModelWithProjection, else a faithful mirror of open_clip's VisionTransformer
(open_clip/transformer.py: conv1 without bias, class + positional embedding, ln_pre, pre-LN
ResidualAttentionBlocks of nn.MultiheadAttention / nn.LayerNorm / nn.GELU MLP, ln_post on the class
token, @ proj), built from the same torch.nn modules, so the same ATen kernels run.

Prints one JSON object per precision, with the keys prefscore bench prints (images_per_second,
ms_per_image, gflops, fraction_of_peak, peak_rss_mb, time_to_first_score_s, precision, threads,
batch_size); the last line is the last precision asked for. Timings are as noisy as the machine.

Usage: /usr/bin/python3 scripts/bench_reference.py [--model-card models/clip-h.json]
       [--precision fp32,bf16] [--threads N] [--batch-size 4] [--iters 3]
"""
import argparse
import json
import os
import resource
import sys
import time
from collections import OrderedDict

import torch
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def physical_cores():
    """Physical cores in this process's affinity mask, as prefscore's --threads default."""
    cores = set()
    for cpu in os.sched_getaffinity(0):
        topo = f"/sys/devices/system/cpu/cpu{cpu}/topology/"
        try:
            with open(topo + "physical_package_id") as p, open(topo + "core_id") as c:
                cores.add((int(p.read()), int(c.read())))
        except OSError:
            return len(os.sched_getaffinity(0))
    return max(1, len(cores))


class ResidualAttentionBlock(nn.Module):
    """open_clip transformer.py ResidualAttentionBlock (no layer scale, batch_first)."""

    def __init__(self, width, heads, mlp_width, quick_gelu):
        super().__init__()
        self.ln_1 = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(OrderedDict([
            ("c_fc", nn.Linear(width, mlp_width)),
            ("gelu", QuickGELU() if quick_gelu else nn.GELU()),
            ("c_proj", nn.Linear(mlp_width, width)),
        ]))

    def forward(self, x):
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class VisionTransformer(nn.Module):
    """open_clip transformer.py VisionTransformer, class-token pooling, with its init scales."""

    def __init__(self, a):
        super().__init__()
        w, p = a["vision_width"], a["patch_size"]
        grid = a["image_size"] // p
        mlp = int(w * a.get("mlp_ratio", 4.0))
        scale = w ** -0.5
        self.conv1 = nn.Conv2d(3, w, kernel_size=p, stride=p, bias=False)
        self.class_embedding = nn.Parameter(scale * torch.randn(w))
        self.positional_embedding = nn.Parameter(scale * torch.randn(grid * grid + 1, w))
        self.ln_pre = nn.LayerNorm(w)
        quick = a.get("activation", "gelu") == "quick_gelu"
        self.resblocks = nn.ModuleList(
            [ResidualAttentionBlock(w, a["vision_heads"], mlp, quick) for _ in range(a["vision_layers"])])
        self.ln_post = nn.LayerNorm(w)
        self.proj = nn.Parameter(scale * torch.randn(w, a["embed_dim"]))

    def forward(self, x):
        x = self.conv1(x).flatten(2).transpose(1, 2)
        cls = self.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding.to(x.dtype)
        x = self.ln_pre(x)
        for block in self.resblocks:
            x = block(x)
        return self.ln_post(x[:, 0]) @ self.proj


def build_tower(a):
    try:
        import open_clip  # noqa: F401
        cfg = dict(width=a["vision_width"], layers=a["vision_layers"], patch_size=a["patch_size"],
                   image_size=a["image_size"], head_width=a["vision_width"] // a["vision_heads"],
                   mlp_ratio=a.get("mlp_ratio", 4.0))
        model = open_clip.model._build_vision_tower(a["embed_dim"], cfg,
                                                    quick_gelu=a.get("activation") == "quick_gelu")
        return model, "open_clip " + open_clip.__version__
    except (ImportError, AttributeError, TypeError):  # absent, or an open_clip with another API
        pass
    try:
        from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection
        cfg = CLIPVisionConfig(hidden_size=a["vision_width"], num_hidden_layers=a["vision_layers"],
                               num_attention_heads=a["vision_heads"], patch_size=a["patch_size"],
                               image_size=a["image_size"], projection_dim=a["embed_dim"],
                               intermediate_size=int(a["vision_width"] * a.get("mlp_ratio", 4.0)),
                               hidden_act=a.get("activation", "gelu"))
        model = CLIPVisionModelWithProjection(cfg)
        return (lambda x: model(pixel_values=x).image_embeds), "transformers"
    except ImportError:
        pass
    return VisionTransformer(a), "mirror of open_clip VisionTransformer (torch.nn)"


def image_tower_gflop(a):
    """As prefscore's image_tower_gflop: 2 FLOPs per multiply-add."""
    t = (a["image_size"] // a["patch_size"]) ** 2 + 1
    w = a["vision_width"]
    mlp = int(w * a.get("mlp_ratio", 4.0))
    block = t * (4 * w * w + 2 * w * mlp) + 2 * t * t * w
    patch = (t - 1) * 3 * a["patch_size"] ** 2 * w
    return 2.0 * (a["vision_layers"] * block + patch + w * a["embed_dim"]) / 1e9


def matmul_peak_gflops(dtype):
    """Best of the same large GEMMs prefscore measures, through F.linear."""
    best = 0.0
    for m, k, n in [(2056, 1280, 5120), (2056, 5120, 1280), (1028, 1280, 5120)]:
        a, b = torch.randn(m, k).to(dtype), torch.randn(n, k).to(dtype)
        torch.nn.functional.linear(a, b)
        reps, t0 = 0, time.perf_counter()
        while True:
            torch.nn.functional.linear(a, b)
            reps += 1
            if time.perf_counter() - t0 >= 0.5:
                break
        best = max(best, 2.0 * m * k * n * reps / (time.perf_counter() - t0) / 1e9)
    return best


def run(a, precision, batch, iters):
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[precision]
    torch.manual_seed(0)
    t0 = time.perf_counter()
    tower, implementation = build_tower(a)
    if isinstance(tower, nn.Module):
        tower = tower.to(dtype).eval()
    size = a["image_size"]
    batches = [torch.randn(batch, 3, size, size) for _ in range(iters + 1)]
    with torch.inference_mode():
        tower(batches[0].to(dtype)).float()
        first = time.perf_counter() - t0
        t1 = time.perf_counter()
        for x in batches[1:]:
            tower(x.to(dtype)).float()
        timed = time.perf_counter() - t1
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    images = batch * iters
    gflop = image_tower_gflop(a)
    peak = matmul_peak_gflops(dtype)
    ips = images / timed
    return OrderedDict([
        ("implementation", implementation), ("torch", torch.__version__),
        ("precision", precision), ("threads", torch.get_num_threads()), ("batch_size", batch),
        ("iters", iters), ("images_per_second", ips), ("ms_per_image", 1000.0 / ips),
        ("gflop_per_image", gflop), ("gflops", gflop * ips), ("peak_gflops", peak),
        ("fraction_of_peak", gflop * ips / peak), ("peak_rss_mb", rss_mb),
        ("time_to_first_score_s", first)])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model-card", default=os.path.join(ROOT, "models", "clip-h.json"),
                    help="model card whose architecture to use [default: models/clip-h.json]")
    ap.add_argument("--precision", default="fp32,bf16",
                    help="comma-separated: fp32, bf16 [default: fp32,bf16]")
    ap.add_argument("--threads", type=int, default=0,
                    help="intra-op threads [default: 0 = one per physical core]")
    ap.add_argument("--batch-size", type=int, default=4, help="images per call [default: 4]")
    ap.add_argument("--iters", type=int, default=3, help="timed calls after the first [default: 3]")
    args = ap.parse_args()
    with open(args.model_card) as f:
        arch = json.load(f)["architecture"]
    torch.set_num_threads(args.threads if args.threads > 0 else physical_cores())
    for precision in args.precision.split(","):
        print(json.dumps(run(arch, precision, args.batch_size, args.iters)), flush=True)


if __name__ == "__main__":
    sys.exit(main())
