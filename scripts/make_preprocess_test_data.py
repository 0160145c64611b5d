#!/usr/bin/env python3
"""Builds tests/data/preprocess/ (see README.md there). Not used at run time or by the tests.

Run with Debian bookworm's system Python (python3-pil 9.4.0, python3-torch 1.13.1,
python3-numpy 1.24.2):

    /usr/bin/python3 scripts/make_preprocess_test_data.py \
        ../shared/fixtures/preprocess tests/data/preprocess

1. Checks, image by image before writing it, that the reference functions below reproduce every
   tensor of the shared fixtures (made with pip Pillow 9.4.0, torch 1.13.1, torchvision 0.14.1,
   transformers 4.39) bit for bit; an assertion stops the script otherwise.
2. Copies the 15 shared images and repacks their tensors into tensors/<stem>.safetensors (subset
   and lossless recoding, listed in README.md).
3. Generates extra/ (more PIL modes and formats, EXIF orientations) with expected outputs at
   image_size 32 in extra/expected.safetensors.
4. Generates resample.safetensors: random images resized by Pillow in each mode.
"""
import io
import json
import os
import shutil
import struct
import sys
import zlib

import numpy as np
import torch
from PIL import Image, ImageOps

MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32).reshape(3, 1, 1)
STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32).reshape(3, 1, 1)
DTYPES = {"U8": np.uint8, "F32": np.float32, "I32": np.int32}


def st_load(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    header = json.loads(b[8:8 + n])
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        s, e = v["data_offsets"]
        out[k] = np.frombuffer(b[8 + n + s:8 + n + e], dtype=DTYPES[v["dtype"]]).reshape(v["shape"])
    return out, header.get("__metadata__", {})


def st_save(path, tensors, metadata):
    names = {np.dtype(v): k for k, v in DTYPES.items()}
    header, blobs, offset = {}, [], 0
    for name, array in tensors.items():
        data = np.ascontiguousarray(array).tobytes()
        header[name] = {"dtype": names[array.dtype], "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


# --- reference pipelines (torchvision 0.14 / transformers 4.39 / HPSv2 re-stated) ---------------

def shortest_side(w, h, s):
    short, long = (w, h) if w <= h else (h, w)
    new_long = int(s * long / short)
    return (s, new_long) if w <= h else (new_long, s)


def normalize(u8_hwc):
    t = torch.from_numpy(np.ascontiguousarray(u8_hwc.transpose(2, 0, 1))).float().div(255)
    return ((t - torch.from_numpy(MEAN)) / torch.from_numpy(STD)).numpy()


def openclip_u8(im, s):
    """Resize(s, BICUBIC) in the image's mode, CenterCrop(s) (round), convert RGB."""
    w, h = im.size
    resized = im.resize(shortest_side(w, h, s), Image.BICUBIC)
    rw, rh = resized.size
    top, left = int(round((rh - s) / 2.0)), int(round((rw - s) / 2.0))
    cropped = resized.crop((left, top, left + s, top + s))
    return np.asarray(cropped.convert("RGB")), resized


def hf_u8(im, s):
    """convert RGB, PIL bicubic resize of the array, center crop (floor)."""
    rgb = im if im.mode == "RGB" else im.convert("RGB")
    w, h = rgb.size
    a = np.asarray(Image.fromarray(np.asarray(rgb)).resize(shortest_side(w, h, s), Image.BICUBIC))
    top, left = (a.shape[0] - s) // 2, (a.shape[1] - s) // 2
    return a[top:top + s, left:left + s]


def hpsv2(im, s):
    """_convert_to_rgb_or_rgba, ToTensor, ResizeMaxSize(s) (tensor bicubic, no AA), normalize."""
    im = im if im.mode == "RGBA" else im.convert("RGB")
    t = torch.from_numpy(np.ascontiguousarray(np.asarray(im).transpose(2, 0, 1))).float().div(255)
    h, w = t.shape[1:]
    scale = s / float(max(h, w))
    if scale != 1.0:
        nh, nw = round(h * scale), round(w * scale)
        t = torch.nn.functional.interpolate(t[None], size=[nh, nw], mode="bicubic",
                                            align_corners=False)[0]
        ph, pw = s - nh, s - nw
        t = torch.nn.functional.pad(t, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2], value=0.0)
    t = t[:3].clone()
    return ((t - torch.from_numpy(MEAN)) / torch.from_numpy(STD)).numpy()


def hf_u8_from_pixel_values(pv):
    """Inverts the (injective) per-channel normalization; asserts it is exact."""
    lut = ((np.arange(256, dtype=np.float64) * (1 / 255)).astype(np.float32)[None, :]
           - MEAN.reshape(3, 1)) / STD.reshape(3, 1)
    out = np.zeros(pv.shape, dtype=np.uint8)
    for c in range(3):
        idx = np.clip(np.searchsorted(lut[c], pv[c].ravel()), 0, 255)
        assert (lut[c][idx] == pv[c].ravel()).all()
        out[c] = idx.reshape(pv.shape[1:])
    assert (normalize(out.transpose(1, 2, 0)) == pv).all()
    return out.transpose(1, 2, 0)


# --- 1 + 2: shared fixtures --------------------------------------------------------------------

KEEP_OPENCLIP_PIXEL_VALUES = {"rgb_640x480", "gray16_I16_200x180", "odd_333x517"}
KEEP_HF_PIXEL_VALUES = {"odd_333x517"}
KEEP_RESIZED = {"gray_L_300x200", "rgba_256x320", "palette_P_200x150", "cmyk_320x240",
                "gray16_I16_200x180", "tiny_7x9"}


def repack_shared(fixtures, out_dir):
    os.makedirs(os.path.join(out_dir, "images"), exist_ok=True)
    os.makedirs(os.path.join(out_dir, "tensors"), exist_ok=True)
    for name in sorted(os.listdir(os.path.join(fixtures, "tensors"))):
        stem = name[:-len(".safetensors")]
        t, meta = st_load(os.path.join(fixtures, "tensors", name))
        image_path = os.path.join(fixtures, "images", meta["file"])
        im = Image.open(image_path)
        oc, resized = openclip_u8(im, 224)
        assert (np.asarray(im.convert("RGB")) == t["decoded_rgb_u8"]).all(), stem
        assert (oc == t["openclip_cropped_u8"]).all(), stem
        if "openclip_resized_u8" in t:
            assert (np.asarray(resized.convert("RGB")) == t["openclip_resized_u8"]).all(), stem
        assert (normalize(oc) == t["openclip_pixel_values"]).all(), stem
        hf = hf_u8(im, 224)
        if "hf_pixel_values" in t:
            assert (normalize(hf) == t["hf_pixel_values"]).all(), stem
        else:  # the fixtures omit HF tensors within 1 level of open_clip's
            assert np.abs(hf.astype(int) - oc).max() <= 1, stem
        assert (hpsv2(im, 224) == t["hpsv2_pixel_values"][:3]).all(), stem

        shutil.copyfile(image_path, os.path.join(out_dir, "images", meta["file"]))
        kept = {"decoded_rgb_u8": t["decoded_rgb_u8"],
                "openclip_cropped_u8": t["openclip_cropped_u8"],
                "hpsv2_pixel_values": np.ascontiguousarray(t["hpsv2_pixel_values"][:3])}
        if "hf_pixel_values" in t:
            kept["hf_cropped_u8"] = hf_u8_from_pixel_values(t["hf_pixel_values"])
        elif (hf != oc).any():
            kept["hf_cropped_u8"] = hf  # not in the fixtures: from the checked reference above
            meta = dict(meta, hf_cropped_u8="local reference (fixture omits it: within 1 level)")
        if stem in KEEP_RESIZED:
            kept["openclip_resized_u8"] = t["openclip_resized_u8"]
        if stem in KEEP_OPENCLIP_PIXEL_VALUES:
            kept["openclip_pixel_values"] = t["openclip_pixel_values"]
        if stem in KEEP_HF_PIXEL_VALUES:
            kept["hf_pixel_values"] = t["hf_pixel_values"]
        st_save(os.path.join(out_dir, "tensors", name), kept, meta)


# --- 3: extra modes and formats ----------------------------------------------------------------

def png_bytes(array, bit_depth, colour_type, extra_chunks=b""):
    """Minimal PNG writer for what Pillow cannot save (2/4-bit gray, 16-bit LA and RGBA)."""
    h, w = array.shape[:2]
    if bit_depth == 16:
        rows = [b"\0" + array[y].astype(">u2").tobytes() for y in range(h)]
    elif bit_depth == 8:
        rows = [b"\0" + array[y].astype(np.uint8).tobytes() for y in range(h)]
    else:
        per_byte = 8 // bit_depth
        rows = []
        for y in range(h):
            row = bytearray()
            for x0 in range(0, w, per_byte):
                byte = 0
                for i in range(per_byte):
                    v = int(array[y, x0 + i]) if x0 + i < w else 0
                    byte |= v << (8 - bit_depth * (i + 1))
                row.append(byte)
            rows.append(b"\0" + bytes(row))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, bit_depth, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra_chunks +
            chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b""))


def saved(im, fmt, **kwargs):
    buffer = io.BytesIO()
    im.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def extra_images(rng):
    """name -> file bytes."""
    def noise(h, w, c=3):
        base = rng.randint(0, 256, (h, w, c)).astype(np.uint8)
        ramp = np.linspace(0, 255, w).astype(np.uint8)[None, :, None]
        return np.where(rng.rand(h, w, 1) < 0.5, base, ramp)

    rgb = Image.fromarray(noise(29, 41))
    alpha = rng.choice([0, 0, 255, 255, 17, 128, 200], (29, 41)).astype(np.uint8)
    files = {}
    files["mode1_41x29.png"] = saved(Image.fromarray(noise(29, 41, 1)[..., 0]).convert("1"), "PNG")
    files["gray2bit_23x37.png"] = png_bytes(rng.randint(0, 4, (37, 23)), 2, 0)
    files["gray4bit_37x23.png"] = png_bytes(rng.randint(0, 16, (23, 37)), 4, 0)
    files["gray_trns_41x29.png"] = saved(rgb.convert("L"), "PNG", transparency=0)
    files["rgb_trns_41x29.png"] = saved(rgb, "PNG", transparency=(0, 0, 0))
    palette = rgb.quantize(16)
    files["palette4bit_41x29.png"] = saved(palette, "PNG", bits=4)
    files["palette_trns_41x29.png"] = saved(rgb.quantize(200), "PNG", transparency=3)
    la = np.dstack([np.asarray(rgb.convert("L")), alpha])
    files["la_41x29.png"] = saved(Image.fromarray(la, "LA"), "PNG")
    la16 = np.dstack([rng.randint(0, 65536, (29, 41)), alpha.astype(np.int64) * 257])
    files["la16_41x29.png"] = png_bytes(la16, 16, 4)
    rgba16 = np.dstack([rng.randint(0, 65536, (29, 41, 3)), alpha.astype(np.int64) * 257])
    files["rgba16_41x29.png"] = png_bytes(rgba16, 16, 6)
    files["gray16_wide_range_41x29.png"] = png_bytes(rng.randint(0, 600, (29, 41)), 16, 0)
    files["gray_29x41.jpg"] = saved(rgb.convert("L").transpose(Image.TRANSPOSE), "JPEG")
    files["cmyk_41x29.jpg"] = saved(rgb.convert("CMYK"), "JPEG", quality=90)
    files["progressive_41x29.jpg"] = saved(rgb, "JPEG", progressive=True, quality=85)
    files["lossless_41x29.webp"] = saved(rgb, "WEBP", lossless=True)
    files["lossless_alpha_41x29.webp"] = saved(Image.fromarray(
        np.dstack([np.asarray(rgb), alpha]), "RGBA"), "WEBP", lossless=True)
    files["lossy_41x29.webp"] = saved(rgb, "WEBP", quality=80)
    files["rgb24_41x29.bmp"] = saved(rgb, "BMP")
    files["palette8_41x29.bmp"] = saved(rgb.quantize(64), "BMP")
    files["gray8_41x29.bmp"] = saved(rgb.convert("L"), "BMP")
    files["one_pixel_1x1.png"] = saved(Image.fromarray(noise(1, 1)), "PNG")
    files["rgba_exact_32x32.png"] = saved(Image.fromarray(
        np.dstack([noise(32, 32), rng.choice([0, 255, 90], (32, 32)).astype(np.uint8)]), "RGBA"),
        "PNG")
    files["short_side_32_32x50.png"] = saved(Image.fromarray(noise(50, 32)), "PNG")
    small = Image.fromarray(noise(4, 6))
    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = orientation
        files[f"orient{orientation}_6x4.jpg"] = saved(small, "JPEG", exif=exif.tobytes(),
                                                      quality=95)
    exif = Image.Exif()
    exif[0x0112] = 6
    files["orient6_6x4.png"] = saved(small, "PNG", exif=exif.tobytes())
    exif[0x0112] = 8
    files["orient8_6x4.webp"] = saved(small, "WEBP", lossless=True, exif=exif.tobytes())
    return files


def write_extra(out_dir, rng):
    extra_dir = os.path.join(out_dir, "extra")
    os.makedirs(extra_dir, exist_ok=True)
    tensors, metadata = {}, {}
    for name, data in extra_images(rng).items():
        with open(os.path.join(extra_dir, name), "wb") as f:
            f.write(data)
        im = Image.open(io.BytesIO(data))
        metadata[name] = im.mode
        tensors[name + "/decoded_rgb_u8"] = np.asarray(im.convert("RGB"))
        transposed = ImageOps.exif_transpose(im)
        if transposed.size != im.size or not (np.asarray(transposed.convert("RGB")) ==
                                              tensors[name + "/decoded_rgb_u8"]).all():
            tensors[name + "/exif_transposed_rgb_u8"] = np.asarray(transposed.convert("RGB"))
        if name.startswith("orient"):
            continue
        tensors[name + "/openclip_cropped_u8"] = openclip_u8(im, 32)[0]
        tensors[name + "/hf_cropped_u8"] = hf_u8(im, 32)
        tensors[name + "/hpsv2_pixel_values"] = hpsv2(im, 32)
    st_save(os.path.join(out_dir, "extra", "expected.safetensors"), tensors, metadata)


# --- 4: Pillow resize in every mode ------------------------------------------------------------

def write_resample(out_dir, rng):
    cases = [("L", 37, 23, 80, 51), ("L", 37, 23, 5, 3), ("L", 60, 41, 60, 17), ("L", 60, 41, 7, 41),
             ("RGB", 33, 47, 1, 1), ("RGB", 33, 47, 99, 70), ("RGB", 33, 47, 12, 100),
             ("RGB", 1000, 30, 21, 7), ("RGB", 30, 1000, 9, 13), ("RGB", 3, 2, 61, 40),
             ("LA", 37, 23, 19, 64), ("LA", 37, 23, 50, 9), ("RGBA", 41, 29, 17, 13),
             ("RGBA", 41, 29, 90, 71), ("CMYK", 41, 29, 23, 33), ("I", 41, 29, 17, 13),
             ("I", 41, 29, 90, 70), ("I", 41, 29, 41, 5), ("P", 41, 29, 17, 13),
             ("P", 41, 29, 90, 71), ("1", 41, 29, 60, 19)]
    tensors, metadata = {}, {}
    for i, (mode, w, h, ow, oh) in enumerate(cases):
        bands = {"L": 1, "1": 1, "I": 1, "LA": 2, "RGB": 3, "P": 3, "RGBA": 4, "CMYK": 4}[mode]
        if mode == "I":
            values = rng.randint(0, 66000, (h, w)).astype(np.int32) * rng.choice([1, -1], (h, w))
            im = Image.fromarray(values.astype(np.int32), "I")
            before, after = values.astype(np.int32), np.asarray(im.resize((ow, oh), Image.BICUBIC))
        elif mode == "P":
            im = Image.fromarray(rng.randint(0, 256, (h, w, 3)).astype(np.uint8)).quantize(64)
            before = np.asarray(im.convert("RGB"))
            after = np.asarray(im.resize((ow, oh), Image.BICUBIC).convert("RGB"))
        else:
            data = rng.randint(0, 256, (h, w, bands)).astype(np.uint8)
            if mode in ("LA", "RGBA"):
                data[..., -1] = rng.choice([0, 255, 1, 77, 254], (h, w))
            if mode == "1":
                data = np.where(data > 127, 255, 0).astype(np.uint8)
            im = Image.frombytes(mode, (w, h), data.tobytes()) if mode != "1" else \
                Image.fromarray(data[..., 0]).convert("1")
            before = data
            resized = im.resize((ow, oh), Image.BICUBIC)
            after = np.asarray(resized.convert("L") if mode == "1" else resized)
        metadata[f"case{i}"] = f"{mode} {w}x{h} -> {ow}x{oh}"
        tensors[f"case{i}/input"] = np.ascontiguousarray(before).reshape(h, w, -1)
        tensors[f"case{i}/output"] = np.ascontiguousarray(after).reshape(oh, ow, -1)
    st_save(os.path.join(out_dir, "resample.safetensors"), tensors, metadata)


def main():
    fixtures, out_dir = sys.argv[1], sys.argv[2]
    repack_shared(fixtures, out_dir)
    rng = np.random.RandomState(20240604)
    write_extra(out_dir, rng)
    write_resample(out_dir, rng)


if __name__ == "__main__":
    main()
