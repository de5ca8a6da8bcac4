#!/usr/bin/env python3
"""Tiny Hugging Face `CLIPModel` checkpoint + its own outputs, for tests/tests/hf_import.rs.

The Rust side loads `model.safetensors` (HF key layout) through the remap table
(crates/core/src/weights/remap.rs) and q/k/v packing (store.rs), runs its own towers, and
compares against what `transformers` computes here (an independent implementation).

    /tmp/pyenv/venv/bin/python scripts/make_hf_reference.py

Size: the token embedding is 49408 x text_width, so the text tower is 8 wide (2 heads of 4)
and every float tensor is stored as float16. The model's weights are rounded to float16
*before* the references are computed (in float32), so the stored checkpoint is exactly the
model that produced the references.
"""

import json
import os

import open_clip
import torch
import transformers
from safetensors.torch import save_file
from transformers import CLIPConfig, CLIPModel

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "reference", "hf_tiny_clip")
SEED = 20240611
PROMPTS = [
    "a photo of a damaged bottle.",
    "a flawless metal nut",
    "crack",
]


def build_model() -> CLIPModel:
    vision = dict(
        hidden_size=64,
        intermediate_size=256,
        num_hidden_layers=3,
        num_attention_heads=4,
        image_size=64,
        patch_size=16,
        num_channels=3,
        hidden_act="quick_gelu",
        layer_norm_eps=1e-5,
    )
    text = dict(
        hidden_size=8,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        max_position_embeddings=77,
        vocab_size=49408,
        hidden_act="quick_gelu",
        layer_norm_eps=1e-5,
        # Pool at the first `eos_token_id` (!= 2 selects that branch in modeling_clip); with
        # open_clip tokens (pad 0, EOT 49407 the largest id) that is open_clip's argmax.
        bos_token_id=49406,
        eos_token_id=49407,
        pad_token_id=0,
    )
    cfg = CLIPConfig(text_config=text, vision_config=vision, projection_dim=32)
    torch.manual_seed(SEED)
    model = CLIPModel(cfg).eval()
    g = torch.Generator().manual_seed(SEED + 1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = lambda s: s * torch.randn(p.shape, generator=g)  # noqa: E731
            if ("layer_norm" in name or "layrnorm" in name) and name.endswith(".weight"):
                p.copy_(1.0 + noise(0.1))
            elif ("layer_norm" in name or "layrnorm" in name) and name.endswith(".bias"):
                p.copy_(noise(0.05))
            elif name.endswith(".bias"):
                p.copy_(noise(0.02))
            elif name.endswith("class_embedding"):
                p.add_(noise(0.1))
            # Round to float16-representable values: the checkpoint is stored as float16.
            p.copy_(p.half().float())
    return model


def main() -> None:
    torch.set_num_threads(2)
    os.makedirs(OUT, exist_ok=True)
    model = build_model()

    state = {
        k: (v.half() if v.is_floating_point() else v).contiguous()
        for k, v in model.state_dict().items()
    }
    save_file(state, os.path.join(OUT, "model.safetensors"))
    # Full config (not the diff against defaults), so heads / eos_token_id are explicit.
    model.config.to_json_file(os.path.join(OUT, "config.json"), use_diff=False)

    g = torch.Generator().manual_seed(SEED + 2)
    pixel_values = torch.randn(2, 3, 64, 64, generator=g)
    input_ids = open_clip.tokenize(PROMPTS)  # [3, 77] int64, pad 0
    eot = input_ids.argmax(dim=-1)
    first_eos = (input_ids == 49407).int().argmax(dim=-1)
    assert torch.equal(eot, first_eos), "HF eos pooling must equal open_clip argmax"

    with torch.no_grad():
        image_embeds = model.get_image_features(pixel_values=pixel_values)
        text_embeds = model.get_text_features(input_ids=input_ids)
        masked = model.get_text_features(
            input_ids=input_ids, attention_mask=(input_ids != 0).long()
        )
        # Causal attention: the EOT row never sees padding, so the mask is irrelevant there.
        assert torch.allclose(text_embeds, masked, atol=1e-6, rtol=0), (
            (text_embeds - masked).abs().max()
        )
        vis = model.vision_model(pixel_values=pixel_values, output_hidden_states=True)
        txt = model.text_model(input_ids=input_ids, output_hidden_states=True)

    n_vis = len(vis.hidden_states)  # 1 + num_hidden_layers
    ref = {
        "input.pixel_values": pixel_values,
        "input.input_ids": input_ids.to(torch.int32),
        "image_embeds": image_embeds,
        "text_embeds": text_embeds,
        # hidden_states[0] = encoder input = embeddings after pre_layrnorm (open_clip ln_pre);
        # hidden_states[k] = output of encoder layer k-1 (before post_layernorm).
        "vision.hidden_states.0": vis.hidden_states[0],
        "vision.hidden_states.1": vis.hidden_states[1],
        f"vision.hidden_states.{n_vis - 1}": vis.hidden_states[-1],
        # Text: last encoder layer output, all 77 positions (causal mask only, no padding
        # mask: open_clip's behaviour), before final_layer_norm.
        f"text.hidden_states.{len(txt.hidden_states) - 1}": txt.hidden_states[-1],
    }
    ref = {k: v.contiguous() for k, v in ref.items()}
    save_file(
        ref,
        os.path.join(OUT, "reference.safetensors"),
        # One metadata key: safetensors writes a multi-key map in hash order (not reproducible).
        metadata={
            "generator": json.dumps(
                {
                    "script": "scripts/make_hf_reference.py",
                    "transformers": transformers.__version__,
                    "torch": torch.__version__,
                    "open_clip": open_clip.__version__,
                    "prompts": PROMPTS,
                    "seed": SEED,
                }
            )
        },
    )
    for k, v in ref.items():
        print(f"{k:28s} {tuple(v.shape)} {v.dtype}")
    print("checkpoint keys:", len(state))


if __name__ == "__main__":
    main()
