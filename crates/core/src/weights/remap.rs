//! The one name-remap table: every checkpoint layout the project reads is translated to open_clip
//! state-dict names (which the official ACD-CLIP code also uses), and the adapters keep the official
//! checkpoint keys under `image_adapter.` / `text_adapter.`.
//!
//! | source layout | pattern (regex, applied in order) | becomes | transform |
//! |---|---|---|---|
//! | training checkpoints | `^(state_dict\|model)\.` , `^module\.` | (removed) | |
//! | official `adapter_<epoch>.pth` | `image_adapter.*`, `text_adapter.*` | unchanged | |
//! | OpenAI `ViT-*.pt` (TorchScript) | module attribute paths | already open_clip names | |
//! | HF `CLIPModel` | `^vision_model\.embeddings\.patch_embedding\.weight$` | `visual.conv1.weight` | |
//! | | `^vision_model\.embeddings\.class_embedding$` | `visual.class_embedding` | |
//! | | `^vision_model\.embeddings\.position_embedding\.weight$` | `visual.positional_embedding` | |
//! | | `^vision_model\.pre_layrnorm\.` | `visual.ln_pre.` | |
//! | | `^vision_model\.post_layernorm\.` | `visual.ln_post.` | |
//! | | `^vision_model\.encoder\.layers\.(\d+)\.` | `visual.transformer.resblocks.$1.` | |
//! | | `^text_model\.embeddings\.token_embedding\.weight$` | `token_embedding.weight` | |
//! | | `^text_model\.embeddings\.position_embedding\.weight$` | `positional_embedding` | |
//! | | `^text_model\.encoder\.layers\.(\d+)\.` | `transformer.resblocks.$1.` | |
//! | | `^text_model\.final_layer_norm\.` | `ln_final.` | |
//! | | `\.layer_norm1\.` / `\.layer_norm2\.` | `.ln_1.` / `.ln_2.` | |
//! | | `\.mlp\.fc1\.` / `\.mlp\.fc2\.` | `.mlp.c_fc.` / `.mlp.c_proj.` | |
//! | | `\.self_attn\.out_proj\.` | `.attn.out_proj.` | |
//! | | `\.self_attn\.(q\|k\|v)_proj\.` | `.attn.$1_proj.` | packed into `in_proj_*` (q, k, v stacked) |
//! | | `^visual_projection\.weight$` | `visual.proj` | transposed (`[E, D]` → `[D, E]`) |
//! | | `^text_projection\.weight$` | `text_projection` | transposed |
//!
//! Layout conversions to the model's own parameters (PyTorch Linear `[out, in]` → `[in, out]`,
//! the 1×1 fusion conv → a matrix, `i_w [1, 1, D]` → `[D]`) happen in `load.rs`, next to the
//! parameters they fill.

use std::sync::OnceLock;

use regex::Regex;

use super::raw::RawTensor;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Transform {
    None,
    Transpose,
}

pub const REMAP_TABLE: &[(&str, &str, Transform)] = &[
    (r"^(state_dict|model)\.", "", Transform::None),
    (r"^module\.", "", Transform::None),
    (
        r"^vision_model\.embeddings\.patch_embedding\.weight$",
        "visual.conv1.weight",
        Transform::None,
    ),
    (
        r"^vision_model\.embeddings\.class_embedding$",
        "visual.class_embedding",
        Transform::None,
    ),
    (
        r"^vision_model\.embeddings\.position_embedding\.weight$",
        "visual.positional_embedding",
        Transform::None,
    ),
    (
        r"^vision_model\.pre_layrnorm\.",
        "visual.ln_pre.",
        Transform::None,
    ),
    (
        r"^vision_model\.post_layernorm\.",
        "visual.ln_post.",
        Transform::None,
    ),
    (
        r"^vision_model\.encoder\.layers\.(\d+)\.",
        "visual.transformer.resblocks.$1.",
        Transform::None,
    ),
    (
        r"^text_model\.embeddings\.token_embedding\.weight$",
        "token_embedding.weight",
        Transform::None,
    ),
    (
        r"^text_model\.embeddings\.position_embedding\.weight$",
        "positional_embedding",
        Transform::None,
    ),
    (
        r"^text_model\.encoder\.layers\.(\d+)\.",
        "transformer.resblocks.$1.",
        Transform::None,
    ),
    (
        r"^text_model\.final_layer_norm\.",
        "ln_final.",
        Transform::None,
    ),
    (r"\.layer_norm1\.", ".ln_1.", Transform::None),
    (r"\.layer_norm2\.", ".ln_2.", Transform::None),
    (r"\.mlp\.fc1\.", ".mlp.c_fc.", Transform::None),
    (r"\.mlp\.fc2\.", ".mlp.c_proj.", Transform::None),
    (
        r"\.self_attn\.out_proj\.",
        ".attn.out_proj.",
        Transform::None,
    ),
    (
        r"\.self_attn\.(q|k|v)_proj\.",
        ".attn.${1}_proj.",
        Transform::None,
    ),
    (
        r"^visual_projection\.weight$",
        "visual.proj",
        Transform::Transpose,
    ),
    (
        r"^text_projection\.weight$",
        "text_projection",
        Transform::Transpose,
    ),
];

fn compiled() -> &'static Vec<(Regex, &'static str, Transform)> {
    static TABLE: OnceLock<Vec<(Regex, &'static str, Transform)>> = OnceLock::new();
    TABLE.get_or_init(|| {
        REMAP_TABLE
            .iter()
            .map(|(p, r, t)| {
                (
                    Regex::new(p).expect("remap table patterns are valid"),
                    *r,
                    *t,
                )
            })
            .collect()
    })
}

/// The canonical (open_clip / official) name of a checkpoint key, and the transform its value needs.
pub fn canonical_name(name: &str) -> (String, Vec<Transform>) {
    let mut current = name.to_string();
    let mut transforms = Vec::new();
    for (re, replacement, transform) in compiled() {
        if re.is_match(&current) {
            current = re.replace(&current, *replacement).into_owned();
            if *transform != Transform::None {
                transforms.push(*transform);
            }
        }
    }
    (current, transforms)
}

pub fn transpose(t: &RawTensor) -> Option<RawTensor> {
    let [r, c] = t.shape[..] else { return None };
    let mut data = vec![0f32; r * c];
    for i in 0..r {
        for j in 0..c {
            data[j * r + i] = t.data[i * c + j];
        }
    }
    Some(RawTensor::new(vec![c, r], data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hf_names_become_open_clip_names() {
        let cases = [
            (
                "vision_model.encoder.layers.3.self_attn.q_proj.weight",
                "visual.transformer.resblocks.3.attn.q_proj.weight",
            ),
            (
                "vision_model.encoder.layers.11.mlp.fc2.bias",
                "visual.transformer.resblocks.11.mlp.c_proj.bias",
            ),
            (
                "text_model.encoder.layers.0.layer_norm2.weight",
                "transformer.resblocks.0.ln_2.weight",
            ),
            ("vision_model.pre_layrnorm.bias", "visual.ln_pre.bias"),
            ("text_model.final_layer_norm.weight", "ln_final.weight"),
            (
                "vision_model.embeddings.position_embedding.weight",
                "visual.positional_embedding",
            ),
            (
                "state_dict.module.visual.conv1.weight",
                "visual.conv1.weight",
            ),
            ("image_adapter.m_i_w.0.i_w", "image_adapter.m_i_w.0.i_w"),
        ];
        for (from, to) in cases {
            assert_eq!(canonical_name(from).0, to, "{from}");
        }
        assert_eq!(
            canonical_name("visual_projection.weight"),
            ("visual.proj".into(), vec![Transform::Transpose])
        );
    }
}
