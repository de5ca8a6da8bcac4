//! The model's configuration read from a checkpoint's shapes (open_clip / official adapter names):
//! widths, depths, ranks and kernels are in the weights; attention heads are not.

use super::store::{TensorStore, WeightError};
use crate::clip::pos_embed::grid_of;
use crate::config::{Activation, AdapterConfig, ClipConfig, TextConfig, VisionConfig};

fn count_indexed(store: &TensorStore, prefix: &str, suffix: &str) -> usize {
    (0..)
        .take_while(|i| store.contains_key(&format!("{prefix}.{i}{suffix}")))
        .count()
}

/// 1 + the largest block index under `prefix.` (not the first gap: a checkpoint missing one
/// block's weights must fail to load, not load as a shallower model).
fn count_blocks(store: &TensorStore, prefix: &str) -> usize {
    let start = format!("{prefix}.");
    store
        .keys()
        .filter_map(|n| {
            n.strip_prefix(&start)?
                .split('.')
                .next()?
                .parse::<usize>()
                .ok()
        })
        .max()
        .map_or(0, |m| m + 1)
}

fn need<'a>(store: &'a TensorStore, name: &str) -> Result<&'a [usize], WeightError> {
    let shape = store.get(name).map(|t| t.shape.as_slice());
    shape.ok_or_else(|| WeightError::Missing {
        name: name.into(),
        expected: vec![],
        hint: " — cannot infer the model shape without it".into(),
    })
}

/// Infers the CLIP shape from an open_clip-named checkpoint. Heads are not stored in weights:
/// OpenAI CLIP uses 64-wide heads, so `heads = width / 64` unless `head_width` says otherwise.
pub fn infer_clip_config(
    store: &TensorStore,
    image_size: usize,
    activation: Activation,
    head_width: usize,
) -> Result<ClipConfig, WeightError> {
    let conv = need(store, "visual.conv1.weight")?;
    let (width, patch) = (conv[0], conv[2]);
    let vlayers = count_blocks(store, "visual.transformer.resblocks");
    let vmlp = need(store, "visual.transformer.resblocks.0.mlp.c_fc.weight")?[0];
    let tok = need(store, "token_embedding.weight")?;
    let (vocab, twidth) = (tok[0], tok[1]);
    let context = need(store, "positional_embedding")?[0];
    let tlayers = count_blocks(store, "transformer.resblocks");
    let tmlp = need(store, "transformer.resblocks.0.mlp.c_fc.weight")?[0];
    let projection = store.get("visual.proj").or(store.get("text_projection"));
    let embed_dim = projection.map_or(twidth, |t| t.shape[1]);
    // The checkpoint's own grid must be square (else the positional embedding cannot be resized).
    grid_of(need(store, "visual.positional_embedding")?)
        .map_err(|e| WeightError::Other(e.to_string()))?;
    Ok(ClipConfig {
        vision: VisionConfig {
            width,
            layers: vlayers,
            heads: (width / head_width).max(1),
            patch_size: patch,
            image_size,
            mlp_hidden: vmlp,
        },
        text: TextConfig {
            width: twidth,
            layers: tlayers,
            heads: (twidth / head_width).max(1),
            context_length: context,
            vocab_size: vocab,
            mlp_hidden: tmlp,
        },
        embed_dim,
        activation,
    })
}

/// Infers N, ranks, kernels and head widths from official adapter keys.
pub fn infer_adapter_config(store: &TensorStore) -> Result<AdapterConfig, WeightError> {
    let n_groups = count_indexed(store, "image_adapter.m_i_w", ".i_w");
    if n_groups == 0 {
        return Err(WeightError::Missing {
            name: "image_adapter.m_i_w.0.i_w".into(),
            expected: vec![],
            hint: " — no ACD-CLIP adapter weights found".into(),
        });
    }
    let nk = count_indexed(
        store,
        "image_adapter.lora_adapters.0.conv_lora_blocks",
        ".lora_A",
    );
    let kernels = (0..nk)
        .map(|j| {
            need(
                store,
                &format!("image_adapter.lora_adapters.0.conv_lora_blocks.{j}.conv_lora_A.weight"),
            )
            .map(|s| s[2])
        })
        .collect::<Result<Vec<_>, _>>()?;
    let conv_a = need(
        store,
        "image_adapter.lora_adapters.0.conv_lora_blocks.0.conv_lora_A.weight",
    )?;
    let d = AdapterConfig::default();
    Ok(AdapterConfig {
        n_groups,
        lora_rank: conv_a[1],
        conv_lora_rank: conv_a[0],
        kernels,
        head_hidden: need(store, "image_adapter.seg_proj.0.fc.0.weight")?[0],
        gate_hidden: need(store, "image_adapter.vision_text_gate.0.0.weight")?[0],
        ..d
    })
}
