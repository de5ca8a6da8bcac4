#!/usr/bin/env python3
"""Writes the PyTorch-checkpoint fixtures for the Rust pickle reader's tests.

Output: crates/core/tests/data/pickle/
  state_dict.pt        torch.save zip: f32/f16/bf16/f64 tensors, a transposed (non-contiguous) view,
                       a slice with a storage offset, two names sharing one storage, a stride-0
                       expanded view, a tied tensor (same object under two names), an nn.Parameter,
                       an int64 and a bool tensor (to be skipped), a 0-d scalar, an empty tensor.
  adapter_3.pth        ACD-CLIP-style checkpoint {"epoch": 3, "image_adapter": OrderedDict,
                       "text_adapter": OrderedDict} (real nn.Module state dicts, with _metadata).
  torchscript.pt       torch.jit.save(torch.jit.trace(...)) of a tiny open_clip CLIP.
  scripted.pt          torch.jit.save(torch.jit.script(...)) of a small module tree.
  state_dict_p4.pt     the same dict saved with pickle_protocol=4.
  legacy.pt            the same dict saved with _use_new_zipfile_serialization=False (pre-1.6 format).
  full_module.pt       torch.save of a whole nn.Module (flattened like its state_dict()).
  reference.safetensors  every float tensor as contiguous f32 under "<file stem>/<dotted name>".
  expected_names.json  file name -> ordered list of the dotted names the reader must produce.
  truncated.pt, garbage.pt, tampered.pt, tampered_offset.pt, short_storage.pt: corrupt inputs.

Run with the project's Python venv (torch 2.5.1, open_clip, safetensors):
  /tmp/pyenv/venv/bin/python scripts/make_pickle_reference.py
"""

import io
import json
import os
import random
import zipfile
from collections import OrderedDict
from typing import List

import torch
import torch.nn as nn
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "crates", "core", "tests", "data", "pickle")
OUT = os.path.normpath(OUT)
os.makedirs(OUT, exist_ok=True)

torch.manual_seed(0)
random.seed(0)

FLOAT_DTYPES = (torch.float32, torch.float16, torch.bfloat16, torch.float64)


def path(name):
    return os.path.join(OUT, name)


def float_items(d, prefix=""):
    """Flattens nested dicts the way the Rust reader does, keeping only float tensors."""
    out = []
    for k, v in d.items():
        name = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, torch.Tensor):
            if v.dtype in FLOAT_DTYPES:
                out.append((name, v))
        elif isinstance(v, dict):
            out.extend(float_items(v, name))
    return out


reference = {}
expected_names = {}


def add_reference(file_name, items):
    stem = os.path.splitext(file_name)[0]
    names = []
    for name, t in items:
        reference[f"{stem}/{name}"] = t.detach().to(torch.float32).contiguous().clone()
        names.append(name)
    expected_names[file_name] = names


# ---------------------------------------------------------------- state_dict.pt
def make_state_dict():
    sd = OrderedDict()
    sd["f32.weight"] = torch.randn(3, 4)
    sd["f16.weight"] = torch.randn(5).half()
    sd["bf16.weight"] = torch.randn(2, 3).bfloat16()
    sd["f64.weight"] = torch.randn(2, 2, dtype=torch.float64)
    base = torch.randn(3, 5)
    sd["transposed"] = base.t()  # shape (5, 3), stride (1, 5)
    assert not sd["transposed"].is_contiguous()
    big = torch.randn(20)
    sd["offset_slice"] = big[7:13].view(2, 3)  # storage offset 7 into a 20-element storage
    shared = torch.randn(4, 3)
    sd["shared.first"] = shared
    sd["shared.second"] = shared[1:, ::2]  # same storage, offset 3, stride (3, 2)
    sd["expanded"] = torch.randn(3, 1).expand(3, 4)  # stride (1, 0)
    tied = torch.randn(2, 2)
    sd["tied.a"] = tied
    sd["tied.b"] = tied  # the same tensor object: memoised, read back through BINGET
    sd["param"] = nn.Parameter(torch.randn(2, 3))
    sd["int64.index"] = torch.arange(5)
    sd["bool.mask"] = torch.tensor([True, False])
    sd["scalar"] = torch.tensor(3.5)
    sd["empty"] = torch.zeros(0, 3)
    sd["f16.strided"] = torch.randn(4, 6).half()[:, 1::2]  # f16 with offset 1 and stride (6, 2)
    return sd


sd = make_state_dict()
torch.save(sd, path("state_dict.pt"))
add_reference("state_dict.pt", float_items(sd))

# the same dict with pickle protocol 4 (FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL)
torch.save(sd, path("state_dict_p4.pt"), pickle_protocol=4)
add_reference("state_dict_p4.pt", float_items(sd))

# legacy (pre-1.6) serialization of the same dict
torch.save(sd, path("legacy.pt"), _use_new_zipfile_serialization=False)
add_reference("legacy.pt", float_items(sd))


# ---------------------------------------------------------------- adapter_3.pth
class ConvLora(nn.Module):
    def __init__(self, c, r):
        super().__init__()
        self.conv_lora_A = nn.Conv2d(c, r, 1, bias=False)
        self.conv_lora_B = nn.Conv2d(r, c, 1, bias=False)


class LoraAdapter(nn.Module):
    def __init__(self, dim, r):
        super().__init__()
        self.lora_A = nn.Parameter(torch.randn(r, dim))
        self.lora_B = nn.Parameter(torch.randn(dim, r))
        self.conv_lora_blocks = nn.ModuleList([ConvLora(dim, r) for _ in range(2)])


class IW(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.i_w = nn.Parameter(torch.randn(dim))
        self.norm = nn.LayerNorm(dim)


class ImageAdapter(nn.Module):
    def __init__(self):
        super().__init__()
        self.lora_adapters = nn.ModuleList([LoraAdapter(8, 2) for _ in range(2)])
        self.m_i_w = nn.ModuleList([IW(8) for _ in range(2)])


class TextAdapter(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Sequential(nn.Linear(8, 4), nn.GELU(), nn.Linear(4, 8))
        self.register_buffer("step", torch.tensor(7))  # int buffer: skipped by the reader


image_adapter = ImageAdapter()
text_adapter = TextAdapter()
ckpt = {
    "epoch": 3,
    "image_adapter": image_adapter.state_dict(),  # OrderedDict with _metadata (BUILD state)
    "text_adapter": text_adapter.state_dict(),
    "lr": 1e-3,
    "note": "acd-clip",
}
torch.save(ckpt, path("adapter_3.pth"))
add_reference("adapter_3.pth", float_items(ckpt))


# a whole pickled nn.Module (torch.save(model)): flattened like its state_dict()
image_adapter.register_buffer("scratch", torch.ones(2), persistent=False)  # not in state_dict
torch.save(image_adapter, path("full_module.pt"))
add_reference("full_module.pt", [(k, v) for k, v in image_adapter.state_dict().items() if v.dtype in FLOAT_DTYPES])


# ---------------------------------------------------------------- torchscript.pt
def make_torchscript():
    import open_clip

    model = open_clip.model.CLIP(
        embed_dim=16,
        vision_cfg=dict(image_size=32, patch_size=16, width=32, layers=2, head_width=16),
        text_cfg=dict(context_length=77, vocab_size=64, width=16, heads=2, layers=1),
    ).eval()
    image = torch.randn(1, 3, 32, 32)
    text = torch.randint(0, 64, (1, 77))
    with torch.no_grad():
        traced = torch.jit.trace(model, (image, text), check_trace=False)
    torch.jit.save(traced, path("torchscript.pt"))
    loaded = torch.jit.load(path("torchscript.pt"), map_location="cpu")
    items = [(k, v) for k, v in loaded.state_dict().items() if v.dtype in FLOAT_DTYPES]
    # The traced state dict must be the model's own state dict (names and values).
    own = model.state_dict()
    # (TorchScript keeps non-persistent buffers such as the text tower's attn_mask in its state dict.)
    for k, v in items:
        if k in own:
            assert torch.equal(own[k], v), k
        else:
            print(f"torchscript: {k} is not in the eager state dict (non-persistent buffer)")
    assert all(k in dict(items) for k, v in own.items() if v.dtype in FLOAT_DTYPES)
    return items


add_reference("torchscript.pt", make_torchscript())


# ---------------------------------------------------------------- scripted.pt
class ScriptedBlock(nn.Module):
    """torch.jit.script (not trace): typed-list attributes (build_intlist), a ModuleDict,
    mangled class names, a non-persistent buffer (TorchScript keeps it in its state dict)."""

    def __init__(self):
        super().__init__()
        self.ln = nn.LayerNorm(8)
        self.attn = nn.MultiheadAttention(8, 2)
        self.heads = nn.ModuleDict({"a": nn.Linear(8, 4), "b": nn.Linear(8, 2, bias=False)})
        self.conv = nn.Conv2d(3, 8, 3)
        self.sizes: List[int] = [1, 2, 3]
        self.register_buffer("np_buf", torch.ones(2), persistent=False)
        self.register_buffer("counter", torch.zeros(1, dtype=torch.long))

    def forward(self, x):
        y, _ = self.attn(self.ln(x), x, x)
        return self.heads["a"](y) + self.np_buf.sum() + float(len(self.sizes))


torch.jit.save(torch.jit.script(ScriptedBlock()), path("scripted.pt"))
scripted = torch.jit.load(path("scripted.pt"), map_location="cpu")
add_reference("scripted.pt", [(k, v) for k, v in scripted.state_dict().items() if v.dtype in FLOAT_DTYPES])


# ---------------------------------------------------------------- corrupt files
good = open(path("state_dict.pt"), "rb").read()
open(path("truncated.pt"), "wb").write(good[: len(good) // 2])
open(path("garbage.pt"), "wb").write(bytes(random.getrandbits(8) for _ in range(4096)))


def rewrite_zip(src, dst, edit):
    """Copies the zip src to dst, passing each entry through edit(name, data) -> data."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, edit(info.filename, zin.read(info.filename)))


def inflate_size(name, data):
    # f32.weight is saved with size (3, 4) pickled as BININT1 3, BININT1 4, TUPLE2 ("K\x03K\x04\x86").
    # Make it (3, 40000): 120000 elements declared against a 12-element storage.
    if name.endswith("/data.pkl"):
        needle = b"K\x03K\x04\x86"
        assert data.count(needle) >= 1, "size tuple (3, 4) not found"
        return data.replace(needle, b"K\x03M\x40\x9c\x86", 1)
    return data


def inflate_offset(name, data):
    # offset_slice has storage offset 7 (BININT1 7 right after the persistent id); make it 2**30.
    if name.endswith("/data.pkl"):
        needle = b"QK\x07K\x02K\x03\x86"
        assert data.count(needle) == 1, "offset 7 / size (2, 3) not found"
        return data.replace(needle, b"QJ\x00\x00\x00\x40K\x02K\x03\x86", 1)
    return data


def shorten_storage(name, data):
    # Cut the first storage entry (f32.weight, 12 floats = 48 bytes) to 10 bytes.
    if name.endswith("/data/0"):
        return data[:10]
    return data


rewrite_zip(path("state_dict.pt"), path("tampered.pt"), inflate_size)
rewrite_zip(path("state_dict.pt"), path("tampered_offset.pt"), inflate_offset)
rewrite_zip(path("state_dict.pt"), path("short_storage.pt"), shorten_storage)

# Each tampered file must really be rejected by torch as well (sanity check of the edits).
for bad in ("tampered.pt", "tampered_offset.pt", "short_storage.pt"):
    try:
        r = torch.load(path(bad), weights_only=True)
        # torch may load lazily-valid views; force materialisation
        for v in r.values():
            if isinstance(v, torch.Tensor):
                v.contiguous()
        print(f"note: torch.load does not notice the damage in {bad}")
    except Exception as e:  # noqa: BLE001
        print(f"{bad}: torch rejects it too ({type(e).__name__})")

save_file(reference, path("reference.safetensors"))
with open(path("expected_names.json"), "w") as f:
    json.dump(expected_names, f, indent=1)

total = 0
for n in sorted(os.listdir(OUT)):
    s = os.path.getsize(path(n))
    total += s
    print(f"{s:>9}  {n}")
print(f"{total:>9}  total")
