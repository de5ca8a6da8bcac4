#!/usr/bin/env python3
"""Generate the committed reference data in ``tests/reference/`` for the Rust parity tests.

The Rust tests compare the Burn implementation against *independent* implementations
(open_clip / PyTorch for the CLIP towers, Pillow for image decoding + resizing, PyTorch's
``F.interpolate`` for the positional-embedding resize) without needing Python at test time
and without committing model weights.  Run from the repository root:

    /path/to/venv/bin/python scripts/make_reference.py            # writes tests/reference/

Generated with torch 2.5.1 (CPU, float32, 2 threads), open_clip_torch 3.3.0, numpy 2.4,
Pillow 11.3.0, safetensors 0.8 (the exact versions are recorded in the JSON sidecars).

Synthetic weights ("the weight rule")
=====================================
Model weights are not committed.  Every state-dict entry is instead filled from a
counter-based hash that Rust reproduces bit-exactly (``tests/src/synthetic_weights.rs``,
``synthetic_tensor(name, shape, seed)``).  For the tensor named ``name`` (the open_clip
state-dict key, e.g. ``visual.transformer.resblocks.0.attn.in_proj_weight``) with shape
``shape`` and flat row-major element index ``i`` (0-based):

    GAMMA = 0x9E3779B97F4A7C15
    mix64(z)  = z ^= z >> 30; z *= 0xBF58476D1CE4E5B9; z ^= z >> 27; z *= 0x94D049BB133111EB; z ^ (z >> 31)
    fnv1a64(bytes): h = 0xCBF29CE484222325; for b in bytes: h = (h ^ b) * 0x100000001B3
    key   = fnv1a64(utf8(name)) ^ seed
    base  = mix64(key + GAMMA)                      # = first output of SplitMix64 seeded with key
    z_i   = mix64(base + (i + 1) * GAMMA)           # = i-th output of SplitMix64 seeded with base
    u_i   = (f32(z_i >> 40) - 8388608.0) / 8388608.0   # 24 top bits, exact, uniform in [-1, 1)
    value = offset + scale * u_i                    # f32 multiply, then f32 add (no FMA)

All integer arithmetic is wrapping u64.  ``offset`` and ``scale`` are f32 and are chosen by
name with the first matching row of this table (``last`` = the last dotted component
of the name, ``fan_in`` = product of all dims but the first, ``sqrt(3/n)`` is evaluated in
f64 as ``sqrt(3.0 / n)`` and then rounded to f32):

    | rule | match                                                        | offset            | scale              |
    |------|--------------------------------------------------------------|-------------------|--------------------|
    | 1    | name == "logit_scale"                                        | f32(ln(1/0.07)) = f32::from_bits(0x402A3151) = 2.6592600 | 0 |
    | 2    | component before last starts with "ln_" and last == "weight" | 1.0               | 0.1                |
    | 3    | component before last starts with "ln_" and last == "bias"   | 0.0               | 0.05               |
    | 4    | last in {class_embedding, positional_embedding}, or name ends with "token_embedding.weight" | 0.0 | 0.1 |
    | 5    | last in {proj, text_projection} (x @ W, W is [in, out])      | 0.0               | sqrt(3/shape[0])   |
    | 6    | last == "bias" or last ends with "_bias" (in_proj_bias)      | 0.0               | 0.02               |
    | 7    | (last == "weight" or ends with "_weight") and ndim >= 2      | 0.0               | sqrt(3/fan_in)     |
    | -    | anything else                                                | error             |                    |

(LayerNorm modules in open_clip are ln_pre, ln_post, ln_1, ln_2, ln_final.)  With these
values a uniform weight has variance 1/fan_in, so linear layers preserve O(1) activations,
attention logits have std ~1 and the residual stream grows only slowly.  SEED below is used
for both backbones.

Contents (see tests/reference/README.md for the full list with shapes)
=====================================================================
* ``<backbone>.safetensors`` + ``<backbone>.json`` for ``vit_b16_quickgelu`` and
  ``vit_l14_reduced``: inputs, open_clip outputs, a few per-layer hidden states and
  ``synth_check/<name>`` (first 16 synthetic values of a few tensors) /
  ``synth_check_tail/<name>`` (last 16).
* ``pil_resize.safetensors`` + ``images/*.png|jpg``: Pillow bicubic resize references.
* ``pos_embed_resize.safetensors``: positional-embedding grid resize references.
"""

import io
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFilter
from safetensors.numpy import save_file

import open_clip
import PIL
import safetensors

torch.set_num_threads(2)
torch.manual_seed(0)

SEED = 0xACDC0001
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "reference")

MASK64 = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15
FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
LOGIT_SCALE_F32 = np.float32(np.log(1 / 0.07))
assert LOGIT_SCALE_F32.view(np.uint32) == 0x402A3151, hex(int(LOGIT_SCALE_F32.view(np.uint32)))

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

PROMPTS = [  # the longest first: the per-layer text states are stored for prompt 0 only
    "a photo of a metal nut which has four notched edges with defect.",
    "a photo of a dark bottle.",
    "a damaged screw.",
    "wood surface.",
]


# ----------------------------------------------------------------------------------------
# Synthetic weights
# ----------------------------------------------------------------------------------------

def fnv1a64(data: bytes) -> int:
    h = FNV_OFFSET
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & MASK64
    return h


def mix64_int(z: int) -> int:
    z &= MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def mix64_np(z: np.ndarray) -> np.ndarray:
    z = z ^ (z >> np.uint64(30))
    z = z * np.uint64(0xBF58476D1CE4E5B9)
    z = z ^ (z >> np.uint64(27))
    z = z * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def f32_sqrt3_over(n: int) -> np.float32:
    return np.float32(math.sqrt(3.0 / float(n)))


def weight_rule(name: str, shape):
    """(offset, scale, rule_number) as float32 -- the table in the module docstring."""
    parts = name.split(".")
    last = parts[-1]
    prev = parts[-2] if len(parts) >= 2 else ""
    if name == "logit_scale":
        return LOGIT_SCALE_F32, np.float32(0.0), 1
    if prev.startswith("ln_") and last == "weight":
        return np.float32(1.0), np.float32(0.1), 2
    if prev.startswith("ln_") and last == "bias":
        return np.float32(0.0), np.float32(0.05), 3
    if last in ("class_embedding", "positional_embedding") or name.endswith("token_embedding.weight"):
        return np.float32(0.0), np.float32(0.1), 4
    if last in ("proj", "text_projection"):
        assert len(shape) == 2, (name, shape)
        return np.float32(0.0), f32_sqrt3_over(shape[0]), 5
    if last == "bias" or last.endswith("_bias"):
        return np.float32(0.0), np.float32(0.02), 6
    if (last == "weight" or last.endswith("_weight")) and len(shape) >= 2:
        return np.float32(0.0), f32_sqrt3_over(int(np.prod(shape[1:]))), 7
    raise ValueError(f"no synthetic-weight rule for {name} {tuple(shape)}")


def synthetic_tensor(name: str, shape, seed: int = SEED, chunk: int = 1 << 22) -> np.ndarray:
    shape = tuple(int(s) for s in shape)
    n = int(np.prod(shape)) if shape else 1
    offset, scale, _ = weight_rule(name, shape)
    key = fnv1a64(name.encode("utf-8")) ^ seed
    base = mix64_int(key + GAMMA)
    out = np.empty(n, dtype=np.float32)
    with np.errstate(over="ignore"):
        for s in range(0, n, chunk):
            e = min(n, s + chunk)
            i1 = np.arange(s + 1, e + 1, dtype=np.uint64)  # i + 1
            z = mix64_np(np.uint64(base) + i1 * np.uint64(GAMMA))
            u = ((z >> np.uint64(40)).astype(np.float32) - np.float32(8388608.0)) / np.float32(8388608.0)
            v = scale * u  # float32 * float32 -> float32
            out[s:e] = offset + v  # float32 + float32 -> float32
    assert out.dtype == np.float32
    return out.reshape(shape)


def self_test_synthetic():
    # independent scalar implementation of the same rule for a few elements
    name, shape = "visual.conv1.weight", (5, 3, 4, 4)
    t = synthetic_tensor(name, shape).reshape(-1)
    offset, scale, _ = weight_rule(name, shape)
    key = fnv1a64(name.encode()) ^ SEED
    base = mix64_int(key + GAMMA)
    for i in (0, 1, 7, 239):
        z = mix64_int(base + (i + 1) * GAMMA)
        u = np.float32((z >> 40) - 8388608) / np.float32(8388608.0)
        assert np.float32(offset + np.float32(scale * u)) == t[i]
    assert fnv1a64(b"") == FNV_OFFSET
    assert fnv1a64(b"a") == 0xAF63DC4C8601EC8C  # published FNV-1a 64 test vector
    assert mix64_int(0 + GAMMA) == 0xE220A8397B1DCDAF  # SplitMix64(seed=0) first output


def fill_synthetic(model: torch.nn.Module):
    sd = model.state_dict()
    new = {}
    rules = {}
    for k, v in sd.items():
        assert v.dtype == torch.float32, (k, v.dtype)
        new[k] = torch.from_numpy(synthetic_tensor(k, tuple(v.shape)))
        rules[k] = weight_rule(k, tuple(v.shape))[2]
    model.load_state_dict(new, strict=True)
    # verify every entry really was overwritten
    for k, v in model.state_dict().items():
        assert torch.equal(v, new[k]), k
    return sd, rules


# ----------------------------------------------------------------------------------------
# Synthetic "photo-like" images
# ----------------------------------------------------------------------------------------

def photo_like(w: int, h: int, seed: int, jpeg_quality: int = 88) -> np.ndarray:
    """Smooth gradients + blurred shapes + texture + sensor noise, then a JPEG round trip
    (real 8x8 block artifacts).  Returns uint8 HWC RGB."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    xn, yn = xx / max(w - 1, 1), yy / max(h - 1, 1)
    img = np.zeros((h, w, 3), np.float64)
    c0, c1, c2 = rng.uniform(30, 220, 3), rng.uniform(30, 220, 3), rng.uniform(-60, 60, 3)
    ang = rng.uniform(0, 2 * np.pi)
    t = np.cos(ang) * xn + np.sin(ang) * yn
    t = (t - t.min()) / (t.max() - t.min() + 1e-9)
    for c in range(3):
        img[..., c] = c0[c] * (1 - t) + c1[c] * t + c2[c] * np.sin(2 * np.pi * (xn * 0.7 + yn * 1.3))
    # vignetting-like radial falloff
    r2 = (xn - 0.5) ** 2 + (yn - 0.5) ** 2
    img *= (1.0 - 0.5 * r2)[..., None]

    # shapes drawn on a separate layer, blurred (soft edges, like defocus)
    layer = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(layer)
    for _ in range(int(rng.integers(4, 9))):
        x0, y0 = rng.uniform(-0.1, 0.9) * w, rng.uniform(-0.1, 0.9) * h
        x1, y1 = x0 + rng.uniform(0.05, 0.5) * w, y0 + rng.uniform(0.05, 0.5) * h
        col = tuple(int(v) for v in rng.integers(0, 256, 3))
        kind = int(rng.integers(0, 3))
        if kind == 0:
            draw.ellipse([x0, y0, x1, y1], fill=col)
        elif kind == 1:
            draw.rectangle([x0, y0, x1, y1], fill=col)
        else:
            draw.line([x0, y0, x1, y1], fill=col, width=int(rng.integers(1, 6)))
    layer = layer.filter(ImageFilter.GaussianBlur(radius=float(rng.uniform(0.6, 2.0))))
    # a few sharp details (edges, thin lines, text-like dots) after the blur
    draw = ImageDraw.Draw(layer)
    for _ in range(int(rng.integers(2, 5))):
        x0, y0 = rng.uniform(0, 1) * w, rng.uniform(0, 1) * h
        x1, y1 = x0 + rng.uniform(-0.3, 0.3) * w, y0 + rng.uniform(-0.3, 0.3) * h
        draw.line([x0, y0, x1, y1], fill=tuple(int(v) for v in rng.integers(0, 256, 3)), width=1)
    img = np.asarray(layer).astype(np.float64)

    # texture: band-limited noise (upsampled coarse noise) modulating brightness
    coarse = rng.normal(0, 1, (max(h // 8, 2), max(w // 8, 2))).astype(np.float32)
    tex = np.asarray(Image.fromarray(coarse).resize((w, h), Image.BILINEAR), np.float64)
    img *= (1.0 + 0.06 * tex)[..., None]
    # fine sensor noise
    img += rng.normal(0, 3.0, img.shape)
    img = np.clip(np.rint(img), 0, 255).astype(np.uint8)

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=jpeg_quality)
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB")).copy()


def pil_resize(arr: np.ndarray, w: int, h: int) -> np.ndarray:
    im = Image.fromarray(arr)
    assert im.mode == ("L" if arr.ndim == 2 else "RGB")
    return np.asarray(im.resize((w, h), Image.BICUBIC)).copy()


def clip_normalize(u8_hwc: np.ndarray) -> np.ndarray:
    """[H,W,3] uint8 -> [3,H,W] float32: (x/255 - mean)/std, all in float32 (like
    torchvision ToTensor + Normalize)."""
    x = u8_hwc.astype(np.float32) / np.float32(255.0)
    mean = np.array(CLIP_MEAN, np.float32)
    std = np.array(CLIP_STD, np.float32)
    x = (x - mean) / std
    return np.ascontiguousarray(x.transpose(2, 0, 1))


# Source images (width, height), shared by the resize references and the model inputs.
SOURCES = [(240, 300), (601, 419), (97, 131), (1023, 769)]
SRC_SEEDS = [101, 102, 103, 104]

_src_cache = {}


def source(i: int) -> np.ndarray:
    if i not in _src_cache:
        w, h = SOURCES[i]
        _src_cache[i] = photo_like(w, h, SRC_SEEDS[i])
    return _src_cache[i]


# ----------------------------------------------------------------------------------------
# Model references
# ----------------------------------------------------------------------------------------

def about(d: dict) -> dict:
    """safetensors metadata as ONE key (a JSON string): with several keys the header order
    is not stable between runs, which would make regenerated files differ byte-wise."""
    return {"about": json.dumps({"generator": "scripts/make_reference.py", **d}, sort_keys=True)}


def to_np(t: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(t.detach().cpu().numpy().astype(np.float32))


def run_backbone(tag: str, model: torch.nn.Module, cfg: dict, image_srcs, vis_batch_keep: int,
                 txt_batch_keep: int, synth_names):
    print(f"[{tag}] filling synthetic weights", flush=True)
    sd, rules = fill_synthetic(model)
    model.eval()
    S = cfg["vision"]["image_size"]
    lv, lt = cfg["vision"]["layers"], cfg["text"]["layers"]
    v_blocks = sorted({0, lv // 2 - 1, lv - 1})
    t_blocks = sorted({0, lt // 2 - 1, lt - 1})

    pixels = np.stack([pil_resize(source(i), S, S) for i in image_srcs])  # [B,S,S,3] u8
    images = np.stack([clip_normalize(p) for p in pixels])  # [B,3,S,S] f32
    tokens = open_clip.tokenize(PROMPTS)  # [P,77] int64
    assert tokens.shape[1] == cfg["text"]["context_length"]

    cap = {}

    def save_out(key, fn=lambda x: x):
        def hook(_m, _inp, out):
            cap[key] = fn(out)
        return hook

    hooks = [model.visual.ln_pre.register_forward_hook(save_out("vision.ln_pre")),
             model.visual.ln_post.register_forward_hook(save_out("vision.ln_post"))]
    for k in v_blocks:
        hooks.append(model.visual.transformer.resblocks[k].register_forward_hook(save_out(f"vision.block{k}.out")))
    for k in t_blocks:
        hooks.append(model.transformer.resblocks[k].register_forward_hook(save_out(f"text.block{k}.out")))
    hooks.append(model.transformer.register_forward_pre_hook(
        lambda _m, args: cap.__setitem__("text.embed", args[0])))

    print(f"[{tag}] forward", flush=True)
    with torch.no_grad():
        img_t = torch.from_numpy(images)
        enc_img = model.encode_image(img_t)
        enc_txt = model.encode_text(tokens)
        # cross-check: batch-first hidden states as open_clip 3.3 runs them
        assert model.visual.transformer.batch_first and model.transformer.batch_first
    for h in hooks:
        h.remove()

    B, P = images.shape[0], tokens.shape[0]
    seq_v = (S // cfg["vision"]["patch_size"]) ** 2 + 1
    tensors = {
        "input.images": images,
        "input.tokens": tokens.numpy().astype(np.int32),
        "encode_image": to_np(enc_img),
        "encode_text": to_np(enc_txt),
        "vision.ln_post_cls": to_np(cap["vision.ln_post"][:, 0]),
        "logit_scale": np.array([float(model.logit_scale)], np.float32),
    }
    vkeys = ["vision.ln_pre"] + [f"vision.block{k}.out" for k in v_blocks]
    for k in vkeys:
        t = cap[k]
        assert tuple(t.shape) == (B, seq_v, cfg["vision"]["width"]), (k, t.shape)
        tensors[k] = to_np(t[:vis_batch_keep])
    tkeys = ["text.embed"] + [f"text.block{k}.out" for k in t_blocks]
    for k in tkeys:
        t = cap[k]
        assert tuple(t.shape) == (P, 77, cfg["text"]["width"]), (k, t.shape)
        tensors[k] = to_np(t[:txt_batch_keep])
    # sanity: last block + ln_post + proj == encode_image (batch-first semantics)
    with torch.no_grad():
        last = cap[f"vision.block{lv - 1}.out"]
        re = model.visual.ln_post(last[:, 0]) @ model.visual.proj
        assert torch.allclose(re, enc_img, atol=1e-5, rtol=1e-5)

    for nm in synth_names:
        shp = tuple(sd[nm].shape)
        full = synthetic_tensor(nm, shp).reshape(-1)
        tensors[f"synth_check/{nm}"] = full[:16].copy()
        tensors[f"synth_check_tail/{nm}"] = full[-16:].copy()

    # activation health report
    stats = {}
    for k, v in tensors.items():
        if v.dtype == np.float32 and not k.startswith("synth"):
            stats[k] = {"std": float(v.std()), "absmax": float(np.abs(v).max())}
            print(f"  {k:28s} {str(v.shape):22s} std={v.std():.4f} absmax={np.abs(v).max():.4f}")

    meta = {
        "generator": "scripts/make_reference.py",
        "seed": SEED,
        "open_clip_version": open_clip.__version__,
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "safetensors_version": safetensors.__version__,
        "config": cfg,
        "state_dict": [[k, list(v.shape)] for k, v in sd.items()],
        "state_dict_rule": {k: rules[k] for k in sd},
        "state_dict_note": ("every entry of model.state_dict() is listed, in order; the text attn_mask "
                            "is a non-persistent buffer (causal, -inf above the diagonal) and is NOT in the "
                            "state dict; conv1 has no bias"),
        "prompts": PROMPTS,
        "image_sources": [f"images/src{i}.png ({SOURCES[i][0]}x{SOURCES[i][1]}); resized pixels = "
                          f"pil_resize.safetensors src{i}.to_{S}x{S}" for i in image_srcs],
        "input_images_formula": ("input.images[b] = ((u8 / 255) - mean) / std in float32, CHW, with u8 = "
                                 "Image.resize((S, S), BICUBIC) of the source; mean = %s, std = %s"
                                 % (list(CLIP_MEAN), list(CLIP_STD))),
        "vision_blocks_stored": v_blocks,
        "text_blocks_stored": t_blocks,
        "vision_states_batch_kept": vis_batch_keep,
        "text_states_batch_kept": txt_batch_keep,
        "activation_stats": stats,
        "tolerance_note": (
            "References come from PyTorch CPU float32 (MKL/oneDNN GEMMs, fused MHA fast path). A "
            "correct f32 implementation typically matches hidden states and features to |diff| <~ 1e-4 "
            "absolute / 1e-4 relative of the tensor's absmax; ndarray/wgpu accumulation order can add "
            "a little more in the deepest layers, so compare with atol ~1e-3 * absmax and report max/mean "
            "abs error. synth_check values must match exactly (bitwise)."),
    }
    save_file(tensors, os.path.join(OUT, f"{tag}.safetensors"),
              metadata=about({"seed": SEED, "sidecar": f"{tag}.json"}))
    with open(os.path.join(OUT, f"{tag}.json"), "w") as f:
        json.dump(meta, f, indent=1)
    return tensors


def backbone_b16():
    model = open_clip.create_model("ViT-B-16-quickgelu", pretrained=None)
    cfg = {
        "vision": {"image_size": 224, "patch_size": 16, "width": 768, "layers": 12, "heads": 12, "mlp_hidden": 3072},
        "text": {"context_length": 77, "vocab_size": 49408, "width": 512, "heads": 8, "layers": 12, "mlp_hidden": 2048},
        "embed_dim": 512,
        "activation": "quick_gelu",
        "layer_norm_eps": 1e-5,
    }
    run_backbone("vit_b16_quickgelu", model, cfg, image_srcs=[1, 2], vis_batch_keep=1, txt_batch_keep=1,
                 synth_names=["visual.conv1.weight", "visual.transformer.resblocks.0.ln_1.weight",
                              "visual.transformer.resblocks.3.attn.in_proj_bias", "text_projection",
                              "token_embedding.weight", "logit_scale"])


def backbone_l14_reduced():
    vision_cfg = dict(image_size=336, patch_size=14, layers=24, width=128, head_width=64, mlp_ratio=4.0)
    text_cfg = dict(context_length=77, vocab_size=49408, width=128, heads=2, layers=12)
    model = open_clip.model.CLIP(embed_dim=96, vision_cfg=vision_cfg, text_cfg=text_cfg, quick_gelu=False)
    cfg = {
        "vision": {"image_size": 336, "patch_size": 14, "width": 128, "layers": 24, "heads": 2, "mlp_hidden": 512},
        "text": {"context_length": 77, "vocab_size": 49408, "width": 128, "heads": 2, "layers": 12, "mlp_hidden": 512},
        "embed_dim": 96,
        "activation": "gelu",
        "layer_norm_eps": 1e-5,
    }
    assert isinstance(model.visual.transformer.resblocks[0].mlp.gelu, torch.nn.GELU)
    assert model.visual.transformer.resblocks[0].mlp.gelu.approximate == "none"
    run_backbone("vit_l14_reduced", model, cfg, image_srcs=[1], vis_batch_keep=1, txt_batch_keep=1,
                 synth_names=["visual.positional_embedding", "visual.transformer.resblocks.23.mlp.c_fc.weight",
                              "visual.ln_post.bias", "visual.proj", "transformer.resblocks.11.mlp.c_proj.weight"])


# ----------------------------------------------------------------------------------------
# Pillow resize references
# ----------------------------------------------------------------------------------------

# (source index, target (w, h)) pairs; chosen to cover up/down/mixed/non-square.
RESIZE_PLAN = {
    0: [(224, 224), (333, 200)],  # 240x300: mild downscale; non-square target (W up, H down)
    1: [(224, 224), (336, 336)],  # 601x419: downscale (x2.7 / x1.9; x1.8 / x1.25)
    2: [(224, 224)],              # 97x131: strong upscale (x2.3 / x1.7)
    3: [(518, 518), (224, 224)],  # 1023x769: realistic ~2x downscale to 518; ~4.6x to 224
}
# src3 is large (2.4 MB raw); to keep the committed size down it is stored only as the
# (lossless) PNG images/src3.png -- decode it to get the source pixels.
RAW_STORED = (0, 1, 2)


def make_pil_refs():
    img_dir = os.path.join(OUT, "images")
    os.makedirs(img_dir, exist_ok=True)
    tensors = {}
    for i, targets in RESIZE_PLAN.items():
        src = source(i)
        if i in RAW_STORED:
            tensors[f"src{i}"] = src
        png = os.path.join(img_dir, f"src{i}.png")
        Image.fromarray(src).save(png, optimize=True)
        back = np.asarray(Image.open(png).convert("RGB"))
        assert np.array_equal(back, src)
        for (w, h) in targets:
            tensors[f"src{i}.to_{w}x{h}"] = pil_resize(src, w, h)

    # grayscale 'L' image: PIL convert('RGB') replicates the channel; resize after conversion.
    g = photo_like(157, 211, 201)
    gray = np.asarray(Image.fromarray(g).convert("L")).copy()
    Image.fromarray(gray).save(os.path.join(img_dir, "gray0.png"), optimize=True)
    rgb = Image.open(os.path.join(img_dir, "gray0.png"))
    assert rgb.mode == "L"
    rgb = rgb.convert("RGB")
    tensors["gray0"] = gray[..., None].copy()  # [H,W,1]
    tensors["gray0.to_224x224"] = np.asarray(rgb.resize((224, 224), Image.BICUBIC)).copy()  # [224,224,3]
    # (resizing in L mode and replicating gives the same pixels)
    assert np.array_equal(tensors["gray0.to_224x224"][..., 0], pil_resize(gray, 224, 224))
    assert np.array_equal(tensors["gray0.to_224x224"][..., 0], tensors["gray0.to_224x224"][..., 2])

    # JPEG of src2 (97x131: odd sizes, partial MCUs), encoded by PIL (libjpeg-turbo),
    # quality 90, 4:2:0 chroma subsampling (PIL default); decoded by PIL (fancy upsampling).
    jpath = os.path.join(img_dir, "jpeg0.jpg")
    Image.fromarray(source(2)).save(jpath, format="JPEG", quality=90)
    dec = np.asarray(Image.open(jpath).convert("RGB")).copy()
    tensors["jpeg0.decoded"] = dec
    tensors["jpeg0.to_518x518"] = pil_resize(dec, 518, 518)

    for k, v in tensors.items():
        assert v.dtype == np.uint8 and v.flags.c_contiguous, k
    save_file(tensors, os.path.join(OUT, "pil_resize.safetensors"),
              metadata=about({"pillow": PIL.__version__, "layout": "uint8 HWC (height, width, channels)",
                              "resize": "Image.resize((w, h), Image.BICUBIC)"}))
    return tensors


# ----------------------------------------------------------------------------------------
# Positional-embedding resize references
# ----------------------------------------------------------------------------------------

def make_pos_refs():
    rng = np.random.default_rng(7)
    C = 8
    tensors = {}
    for g, g2 in [(24, 37), (14, 32), (16, 37), (7, 5), (24, 24)]:
        emb = rng.normal(0, 1, (1 + g * g, C)).astype(np.float32)
        t = torch.from_numpy(emb)
        grid = t[1:].reshape(g, g, C).permute(2, 0, 1)[None]
        outs = {}
        for aa in (True, False):
            r = F.interpolate(grid, size=(g2, g2), mode="bicubic", antialias=aa, align_corners=False)
            r = r[0].permute(1, 2, 0).reshape(g2 * g2, C)
            outs[aa] = torch.cat([t[:1], r], 0).numpy().astype(np.float32)
        tensors[f"pos.{g}to{g2}.in"] = emb
        tensors[f"pos.{g}to{g2}.out"] = outs[True]
        tensors[f"pos.{g}to{g2}.out_noaa"] = outs[False]
    save_file(tensors, os.path.join(OUT, "pos_embed_resize.safetensors"),
              metadata=about({"torch": torch.__version__,
                              "recipe": "F.interpolate(grid[1,C,g,g], size=(g2,g2), mode='bicubic', "
                                        "antialias=True, align_corners=False); .out_noaa: antialias=False"}))
    return tensors


def main():
    os.makedirs(OUT, exist_ok=True)
    self_test_synthetic()
    which = sys.argv[1:] or ["pil", "pos", "b16", "l14"]
    if "pil" in which:
        make_pil_refs()
    if "pos" in which:
        make_pos_refs()
    if "b16" in which:
        backbone_b16()
    if "l14" in which:
        backbone_l14_reduced()
    total = 0
    for dp, _, fs in os.walk(OUT):
        for f in sorted(fs):
            p = os.path.join(dp, f)
            os.chmod(p, 0o644)  # safetensors writes 0600
            total += os.path.getsize(p)
            print(f"{os.path.relpath(p, OUT):40s} {os.path.getsize(p):>10d}")
    print(f"total {total} bytes")


if __name__ == "__main__":
    main()
