//! The inverse of `load.rs`: a model's parameters as a `TensorStore` under checkpoint names and
//! PyTorch layouts, walked through the model's modules with the same name table (`remap`), so that
//! a saved model loads through the same loader. What to write is chosen by checkpoint name.

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{backend::Backend, Tensor};

use super::raw::RawTensor;
use super::remap::{is_adapter, ParamPath, CLIP_HEADS};
use super::store::TensorStore;
use crate::model::AcdClip;
use crate::Error;

/// Walks a module and writes each parameter that `keep` accepts; the first tensor that cannot be
/// read back is kept as the error (so a failed read never becomes an empty tensor in a file).
struct Writer<'a> {
    store: TensorStore,
    keep: &'a dyn Fn(&str) -> bool,
    at: ParamPath,
    failed: Option<Error>,
}

impl<B: Backend> ModuleVisitor<B> for Writer<'_> {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.at.enter(name, container_type);
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.at.exit();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let (name, layout) = self.at.checkpoint();
        if self.failed.is_some() || !(self.keep)(&name) {
            return;
        }
        match RawTensor::read_back(param.val()) {
            Ok(r) => self.store.insert(name, layout.to_checkpoint(r)),
            Err(e) => {
                let why = format!("reading parameter {name} back for saving: {e}");
                self.failed = Some(Error::Backend(why));
            }
        }
    }
}

fn write<B: Backend>(
    model: &AcdClip<B>,
    keep: &dyn Fn(&str) -> bool,
) -> Result<TensorStore, Error> {
    let (store, at) = (TensorStore::default(), ParamPath::default());
    let mut writer = Writer {
        store,
        keep,
        at,
        failed: None,
    };
    model.visit(&mut writer);
    writer.failed.map_or(Ok(writer.store), Err)
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
