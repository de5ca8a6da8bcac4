//! The inverse of `load.rs`: a model's parameters as a `TensorStore` under checkpoint names and
//! PyTorch layouts, walked through the model's modules with the same name table (`remap`), so that
//! a saved model loads through the same loader. What to write is chosen by checkpoint name.

use burn::tensor::backend::Backend;

use super::remap::{is_adapter, walk_params, CLIP_HEADS};
use super::store::{TensorStore, WeightError};
use crate::model::AcdClip;
use crate::Error;

/// The parameters of `model` whose checkpoint names `keep` accepts, under those names and in
/// PyTorch layouts. A parameter that cannot be read back is an error, never an empty tensor.
fn write<B: Backend>(
    model: &AcdClip<B>,
    keep: &dyn Fn(&str) -> bool,
) -> Result<TensorStore, Error> {
    let mut store = TensorStore::default();
    // The walk reads a clone: a parameter not drawn yet is drawn in the model first, so that the
    // values written are the model's own.
    crate::nn::materialize(model);
    walk_params(model.clone(), "", &mut |name, layout, _, read| {
        if keep(name) {
            let value = read().map_err(|e| {
                WeightError::Other(format!("reading parameter {name} back for saving: {e}"))
            })?;
            store.insert(name.to_string(), layout.to_checkpoint(value));
        }
        Ok(None)
    })?;
    Ok(store)
}

/// The text side: the text tower's names (open_clip keeps them at the root) and the text adapters.
fn is_text(name: &str) -> bool {
    !name.starts_with("visual.") && !name.starts_with("image_adapter.")
}

/// Everything inference needs: vision tower, folded image adapters and heads; with `with_text`, the
/// text tower and text adapters too (to embed new categories). The model is folded if it is not.
pub fn store_from_model<B: Backend>(
    model: &AcdClip<B>,
    with_text: bool,
) -> Result<TensorStore, Error> {
    let with_text = with_text && model.text.is_some() && model.text_adapter.is_some();
    let folded = model.clone().fold();
    write(&folded, &|name| {
        !CLIP_HEADS.contains(&name) && (with_text || !is_text(name))
    })
}

/// CLIP alone with its projection heads (a training-free bundle): no adapters.
pub fn clip_store<B: Backend>(model: &AcdClip<B>, with_text: bool) -> Result<TensorStore, Error> {
    write(model, &|name| {
        !is_adapter(name) && (with_text || !is_text(name))
    })
}

/// A training checkpoint: the adapters in the official trainable layout (the keys of
/// `adapter_<epoch>.pth`: `image_adapter.lora_adapters.*`, `fusion_conv`, …; the folded form for a
/// folded model) and, with `with_backbone`, both CLIP towers in open_clip names (for backbones
/// trained by `acd train --train-backbone`). Loads through `load_acd_clip` like any official
/// checkpoint.
pub fn checkpoint_store<B: Backend>(
    model: &AcdClip<B>,
    with_backbone: bool,
) -> Result<TensorStore, Error> {
    write(model, &|name| with_backbone || is_adapter(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::presets;
    use crate::weights::load::load_acd_clip;
    use crate::weights::raw::RawTensor;

    type B = burn::backend::NdArray<f32>;

    /// A model loaded without its CLIP heads holds them undrawn. Saving it writes the values the
    /// model itself then reads, the same on every save (the walk works on a clone, which would
    /// otherwise draw its own).
    #[test]
    fn saving_writes_the_models_own_values_of_undrawn_parameters() {
        let (cfg, device) = (presets::tiny(64), Default::default());
        let mut store = checkpoint_store(&AcdClip::<B>::new(&cfg, &device), true).unwrap();
        for head in CLIP_HEADS {
            store.remove(*head);
        }
        let model = load_acd_clip::<B>(&mut store, &cfg, true, &device).unwrap();
        let saved = |m: &AcdClip<B>| checkpoint_store(m, true).unwrap()["visual.proj"].clone();
        let (first, second) = (saved(&model), saved(&model));
        let own = RawTensor::read_back(model.vision.proj.val()).unwrap();
        assert_eq!(first, second, "two saves of one model differ");
        assert_eq!(first, own, "the saved values are not the model's");
    }
}
