//! Builds the model from a `TensorStore` with open_clip / official names: the model is made in the
//! shape its configuration gives (lazily: nothing is drawn at random), then every parameter is
//! filled (`remap::walk_params`) from the checkpoint name and layout its module path gives, with
//! its shape checked. No parameter is listed here.

use burn::module::Module;
use burn::tensor::backend::Backend;

use super::raw::RawTensor;
use super::remap::{walk_params, CLIP_HEADS};
use super::store::{TensorStore, WeightError};
use crate::adapters::conv_lora::FoldedConvLora;
use crate::clip::pos_embed::resize_positional_embedding;
use crate::clip::text::TextTower;
use crate::clip::vision::VisionTower;
use crate::config::{AcdClipConfig, ClipConfig};
use crate::model::{AcdClip, ImageAdapter};

/// `module` (at `root`, its path in `AcdClip`) with every parameter taken from `store`, its
/// shape checked; the CLIP heads may be absent when `clip_heads_optional`.
fn fill<B: Backend, M: Module<B>>(
    module: M,
    root: &str,
    store: &mut TensorStore,
    clip_heads_optional: bool,
) -> Result<M, WeightError> {
    walk_params(module, root, &mut |name, layout, shape, _| {
        if clip_heads_optional && CLIP_HEADS.contains(&name) && !store.contains_key(name) {
            return Ok(None);
        }
        let raw = store.take(name, &layout.checkpoint_shape(shape))?;
        Ok(Some(layout.to_module(raw)))
    })
}

/// A positional embedding trained for another grid, resized to this model's (docs/model.md §1.2).
fn resize_positional_embedding_in(
    store: &mut TensorStore,
    cfg: &ClipConfig,
) -> Result<(), WeightError> {
    let (name, v) = ("visual.positional_embedding", &cfg.vision);
    let other_grid = |raw: &&RawTensor| matches!(raw.shape[..], [n, width] if width == v.width && n != v.num_patches() + 1);
    if let Some(raw) = store.get(name).filter(other_grid) {
        let resized = resize_positional_embedding(raw, v.grid())
            .map_err(|e| WeightError::Other(e.to_string()))?;
        store.insert(name.into(), resized);
    }
    Ok(())
}

pub fn load_vision<B: Backend>(
    store: &mut TensorStore,
    cfg: &ClipConfig,
    device: &B::Device,
) -> Result<VisionTower<B>, WeightError> {
    resize_positional_embedding_in(store, cfg)?;
    fill(VisionTower::new(cfg, device), "vision", store, true)
}

pub fn load_text<B: Backend>(
    store: &mut TensorStore,
    cfg: &ClipConfig,
    device: &B::Device,
) -> Result<TextTower<B>, WeightError> {
    fill(TextTower::new(cfg, device), "text", store, true)
}

/// CLIP alone (the training-free mode): the towers with their projection heads, no adapters.
/// `with_text`: also the text tower (needed to embed categories).
pub fn load_clip_only<B: Backend>(
    store: &mut TensorStore,
    cfg: &AcdClipConfig,
    with_text: bool,
    device: &B::Device,
) -> Result<AcdClip<B>, WeightError> {
    resize_positional_embedding_in(store, &cfg.clip)?;
    let model = AcdClip {
        vision: VisionTower::new(&cfg.clip, device),
        text: with_text.then(|| TextTower::new(&cfg.clip, device)),
        image_adapter: ImageAdapter::empty(),
        text_adapter: None,
    };
    fill(model, "", store, false)
}

/// The whole model. `with_text`: also the text tower and text adapters (needed to embed
/// categories; a bundle with precomputed embeddings can skip them). A store with the folded
/// inference form (`image_adapter.folded.*`, what bundles hold) gives a folded model.
pub fn load_acd_clip<B: Backend>(
    store: &mut TensorStore,
    cfg: &AcdClipConfig,
    with_text: bool,
    device: &B::Device,
) -> Result<AcdClip<B>, WeightError> {
    cfg.validate()
        .map_err(|e| WeightError::Other(e.to_string()))?;
    resize_positional_embedding_in(store, &cfg.clip)?;
    let mut model = AcdClip::skeleton(cfg, device);
    if store.contains_key("image_adapter.folded.0.down.weight") {
        let width = cfg.clip.vision.width;
        let ad = &mut model.image_adapter;
        ad.folded = ad
            .lora_adapters
            .drain(..)
            .map(|_| FoldedConvLora::new(width, &cfg.adapter, device))
            .collect();
    }
    if !with_text {
        (model.text, model.text_adapter) = (None, None);
    }
    fill(model, "", store, true)
}
