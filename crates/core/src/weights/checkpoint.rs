//! Training checkpoints: one safetensors file with the official adapter keys (and the trained
//! backbone when there is one) plus the model configuration and training facts in its
//! `__metadata__`, so that `acd detect/export/eval --checkpoint FILE` need no other flag.

use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;
use serde::{Deserialize, Serialize};

use super::store::{TensorStore, WeightError};
use crate::config::AcdClipConfig;

pub const CHECKPOINT_FORMAT: &str = "acd-clip-checkpoint";
pub const CHECKPOINT_VERSION: u32 = 1;

/// What a checkpoint says about itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckpointMeta {
    pub config: AcdClipConfig,
    /// 1-based epoch that produced the weights.
    pub epoch: usize,
    /// The CLIP towers are in the file (trained with `--train-backbone`).
    pub with_backbone: bool,
    /// Free-form training facts (command line, data, seed, losses, validation metrics).
    #[serde(default)]
    pub training: serde_json::Value,
}

/// Serialises the tensors (f32, sorted by name) with the metadata.
pub fn write_checkpoint(store: &TensorStore, meta: &CheckpointMeta) -> Vec<u8> {
    let mut names: Vec<&String> = store.keys().collect();
    names.sort();
    let buffers: Vec<(String, Vec<usize>, Vec<u8>)> = names
        .into_iter()
        .map(|n| {
            let t = store.get(n).expect("listed name");
            let bytes = t.data.iter().flat_map(|v| v.to_le_bytes()).collect();
            (n.clone(), t.shape.clone(), bytes)
        })
        .collect();
    let views: Vec<(String, TensorView)> = buffers
        .iter()
        .map(|(n, s, b)| {
            (
                n.clone(),
                TensorView::new(Dtype::F32, s.clone(), b).expect("sizes match by construction"),
            )
        })
        .collect();
    // Collected into whichever map type safetensors was built with (std or hashbrown).
    let md = [
        ("format", CHECKPOINT_FORMAT.to_string()),
        ("version", CHECKPOINT_VERSION.to_string()),
        (
            "acd_checkpoint",
            serde_json::to_string(meta).expect("serialisable"),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    safetensors::tensor::serialize(views, Some(md)).expect("in-memory serialisation")
}

/// The metadata of a checkpoint written by `write_checkpoint`; `None` for any other weight file
/// (official `.pth`, open_clip, plain safetensors).
pub fn read_checkpoint_meta(bytes: &[u8]) -> Result<Option<CheckpointMeta>, WeightError> {
    if bytes.starts_with(b"PK\x03\x04") || bytes.len() < 9 {
        return Ok(None);
    }
    let Ok((_, md)) = SafeTensors::read_metadata(bytes) else {
        return Ok(None);
    };
    let Some(map) = md.metadata() else {
        return Ok(None);
    };
    if map.get("format").map(String::as_str) != Some(CHECKPOINT_FORMAT) {
        return Ok(None);
    }
    let version = map.get("version").cloned().unwrap_or_default();
    if version != CHECKPOINT_VERSION.to_string() {
        return Err(WeightError::Other(format!(
            "checkpoint format version {version:?} is not supported (this build reads version {CHECKPOINT_VERSION})"
        )));
    }
    let json = map
        .get("acd_checkpoint")
        .ok_or_else(|| WeightError::Other("checkpoint metadata lacks `acd_checkpoint`".into()))?;
    serde_json::from_str(json)
        .map(Some)
        .map_err(|e| WeightError::Other(format!("checkpoint metadata: {e}")))
}
