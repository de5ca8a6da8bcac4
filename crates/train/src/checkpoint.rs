//! Writing and reading training checkpoints: the official adapter keys (`adapter_<epoch>.pth`
//! layout) in one safetensors file, with the backbone when it was trained, and the config and
//! training facts in the metadata. Written atomically (temporary file, then rename) so that an
//! interrupted run never leaves a truncated checkpoint under the final name.

use std::path::{Path, PathBuf};

use acd_core::weights::checkpoint::{read_checkpoint_meta, write_checkpoint, CheckpointMeta};
use acd_core::weights::load::load_acd_clip;
use acd_core::weights::save::checkpoint_store;
use acd_core::weights::TensorStore;
use acd_core::{AcdClip, AcdClipConfig};
use burn::tensor::backend::Backend;

use crate::TrainError;

/// `dir/adapter_<epoch>.safetensors`.
pub fn checkpoint_path(dir: &Path, epoch: usize) -> PathBuf {
    dir.join(format!("adapter_{epoch}.safetensors"))
}

pub fn save_checkpoint<B: Backend>(
    path: &Path,
    model: &AcdClip<B>,
    meta: &CheckpointMeta,
) -> Result<(), TrainError> {
    let store = checkpoint_store(model, meta.with_backbone)
        .map_err(|e| TrainError::Model(e.to_string()))?;
    let bytes = write_checkpoint(&store, meta);
    let tmp = path.with_extension("safetensors.partial");
    std::fs::write(&tmp, &bytes)
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| TrainError::Io(format!("writing {}: {e}", path.display())))
}

/// A checkpoint written by `save_checkpoint`, with its metadata. `clip`: the CLIP weights the
/// adapters were trained on, needed when the checkpoint does not carry the backbone.
pub fn load_checkpoint<B: Backend>(
    path: &Path,
    clip: Option<&TensorStore>,
    device: &B::Device,
) -> Result<(AcdClip<B>, CheckpointMeta), TrainError> {
    let bytes = std::fs::read(path)
        .map_err(|e| TrainError::Io(format!("reading {}: {e}", path.display())))?;
    let meta = read_checkpoint_meta(&bytes)
        .map_err(|e| TrainError::Model(format!("{}: {e}", path.display())))?
        .ok_or_else(|| {
            TrainError::Model(format!(
                "{}: not an `acd train` checkpoint (no acd-clip-checkpoint metadata)",
                path.display()
            ))
        })?;
    let mut store = TensorStore::from_bytes(&bytes)
        .map_err(|e| TrainError::Model(format!("{}: {e}", path.display())))?;
    if !meta.with_backbone {
        let clip = clip.ok_or_else(|| {
            TrainError::Model(format!(
                "{}: the checkpoint holds adapters only: give the CLIP weights they were trained on",
                path.display()
            ))
        })?;
        store.append(&mut clip.clone());
    }
    let model = build(&mut store.finish(), &meta.config, device)
        .map_err(|e| TrainError::Model(format!("{}: {e}", path.display())))?;
    Ok((model, meta))
}

fn build<B: Backend>(
    store: &mut TensorStore,
    cfg: &AcdClipConfig,
    device: &B::Device,
) -> Result<AcdClip<B>, acd_core::weights::WeightError> {
    load_acd_clip(store, cfg, true, device)
}
