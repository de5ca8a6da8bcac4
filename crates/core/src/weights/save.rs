//! The inverse of `load.rs`: a model's parameters as a `TensorStore` under checkpoint names and
//! PyTorch layouts (Linear `[out, in]`), so that a saved model loads through the same loader.
//! The image adapters are written in their folded inference form (`image_adapter.folded.*`).

use burn::module::Param;
use burn::tensor::{backend::Backend, Tensor};

use super::raw::RawTensor;
use super::remap::transpose;
use super::store::TensorStore;
use crate::adapters::conv_lora::FoldedConvLora;
use crate::clip::block::ResidualAttentionBlock;
use crate::clip::text::TextTower;
use crate::clip::vision::VisionTower;
use crate::model::{AcdClip, ImageAdapter, TextAdapter};
use crate::nn::{LayerNorm, Linear};
use crate::Error;

/// A parameter's values as f32, or the backend's reason it could not read them back.
pub(crate) fn raw<B: Backend, const D: usize>(t: Tensor<B, D>) -> Result<RawTensor, String> {
    let dims = t.dims().to_vec();
    let data = t
        .into_data()
        .convert::<f32>()
        .to_vec::<f32>()
        .map_err(|e| format!("{e:?}"))?;
    Ok(RawTensor::new(dims, data))
}

/// Writes parameters under checkpoint names; the first tensor that cannot be read back is kept as
/// the error (so a failed read never becomes an empty tensor in a written file).
struct Writer<'a> {
    store: &'a mut TensorStore,
    failed: Option<Error>,
}

impl<'a> Writer<'a> {
    fn new(store: &'a mut TensorStore) -> Self {
        Self {
            store,
            failed: None,
        }
    }

    /// Inserts `name`, transposed for a Linear weight (`[in, out]` → PyTorch's `[out, in]`).
    fn insert<B: Backend, const D: usize>(
        &mut self,
        name: String,
        t: Tensor<B, D>,
        transposed: bool,
    ) {
        let value = raw(t).and_then(|r| {
            if transposed {
                transpose(&r).ok_or_else(|| "not a matrix".to_string())
            } else {
                Ok(r)
            }
        });
        match value {
            Ok(r) => self.store.insert(name, r),
            Err(e) => {
                self.failed.get_or_insert(Error::Backend(format!(
                    "reading parameter {name} back for saving: {e}"
                )));
            }
        }
    }

    fn finish(self) -> Result<(), Error> {
        self.failed.map_or(Ok(()), Err)
    }

    fn put<B: Backend, const D: usize>(&mut self, name: &str, p: &Param<Tensor<B, D>>) {
        self.insert(name.to_string(), p.val(), false);
    }
    fn linear<B: Backend>(&mut self, prefix: &str, l: &Linear<B>) {
        self.insert(format!("{prefix}.weight"), l.weight.val(), true);
        if let Some(b) = &l.bias {
            self.put(&format!("{prefix}.bias"), b);
        }
    }
    fn layer_norm<B: Backend>(&mut self, prefix: &str, ln: &LayerNorm<B>) {
        self.put(&format!("{prefix}.weight"), &ln.gamma);
        if let Some(bias) = &ln.beta {
            self.put(&format!("{prefix}.bias"), bias);
        }
    }
    fn block<B: Backend>(&mut self, prefix: &str, b: &ResidualAttentionBlock<B>) {
        self.layer_norm(&format!("{prefix}.ln_1"), &b.ln_1);
        self.linear(&format!("{prefix}.attn.in_proj"), &b.attn.in_proj);
        // open_clip names the packed projection `in_proj_weight` / `in_proj_bias`.
        for (from, to) in [
            ("in_proj.weight", "in_proj_weight"),
            ("in_proj.bias", "in_proj_bias"),
        ] {
            let key = format!("{prefix}.attn.{from}");
            if let Some(t) = self.store.get(&key).cloned() {
                self.store.insert(format!("{prefix}.attn.{to}"), t);
                self.store.remove(&key);
            }
        }
        self.linear(&format!("{prefix}.attn.out_proj"), &b.attn.out_proj);
        self.layer_norm(&format!("{prefix}.ln_2"), &b.ln_2);
        self.linear(&format!("{prefix}.mlp.c_fc"), &b.mlp.c_fc);
        self.linear(&format!("{prefix}.mlp.c_proj"), &b.mlp.c_proj);
    }
}

/// Everything inference needs: vision tower, folded image adapters and heads; with `with_text`, the
/// text tower and text adapters too (to embed new categories). The model is folded if it is not.
pub fn store_from_model<B: Backend>(
    model: &AcdClip<B>,
    with_text: bool,
) -> Result<TensorStore, Error> {
    let mut store = TensorStore::default();
    let mut w = Writer::new(&mut store);
    w.vision(&model.vision, false);
    let ad = &model.image_adapter;
    let folded: Vec<_> = if ad.folded.is_empty() {
        ad.lora_adapters.iter().map(|a| a.fold()).collect()
    } else {
        ad.folded.clone()
    };
    w.folded_adapters(&folded);
    w.image_heads(ad);
    if with_text {
        if let (Some(t), Some(ta)) = (&model.text, &model.text_adapter) {
            w.text_tower(t, false);
            w.text_adapter(ta);
        }
    }
    w.finish()?;
    Ok(store)
}

/// CLIP alone with its projection heads (a training-free bundle): no adapters.
pub fn clip_store<B: Backend>(model: &AcdClip<B>, with_text: bool) -> Result<TensorStore, Error> {
    let mut store = TensorStore::default();
    let mut w = Writer::new(&mut store);
    w.vision(&model.vision, true);
    if with_text {
        if let Some(t) = &model.text {
            w.text_tower(t, true);
        }
    }
    w.finish()?;
    Ok(store)
}

/// A training checkpoint: the adapters in the official trainable layout (the keys of
/// `adapter_<epoch>.pth`: `image_adapter.lora_adapters.*`, `fusion_conv`, …) and, with
/// `with_backbone`, both CLIP towers in open_clip names (for backbones trained by `acd train
/// --train-backbone`). Loads through `load_acd_clip` like any official checkpoint.
pub fn checkpoint_store<B: Backend>(
    model: &AcdClip<B>,
    with_backbone: bool,
) -> Result<TensorStore, Error> {
    let mut store = TensorStore::default();
    let mut w = Writer::new(&mut store);
    let ad = &model.image_adapter;
    if ad.lora_adapters.is_empty() {
        w.folded_adapters(&ad.folded);
    }
    for (i, a) in ad.lora_adapters.iter().enumerate() {
        let p = format!("image_adapter.lora_adapters.{i}");
        for (j, b) in a.conv_lora_blocks.iter().enumerate() {
            let bp = format!("{p}.conv_lora_blocks.{j}");
            w.put(&format!("{bp}.lora_A"), &b.lora_a);
            w.put(&format!("{bp}.lora_B"), &b.lora_b);
            w.put(&format!("{bp}.conv_lora_A.weight"), &b.conv_lora_a);
            w.put(&format!("{bp}.conv_lora_B.weight"), &b.conv_lora_b);
        }
        // Stored as the matrix `[n·D, D]`; PyTorch's conv weight is `[D, n·D, 1, 1]`.
        let [rows, cols] = a.fusion.val().dims();
        w.insert(
            format!("{p}.fusion_conv.weight"),
            a.fusion.val().transpose().reshape([cols, rows, 1, 1]),
            false,
        );
    }
    w.image_heads(ad);
    if let Some(ta) = &model.text_adapter {
        w.text_adapter(ta);
    }
    if with_backbone {
        w.vision(&model.vision, true);
        if let Some(t) = &model.text {
            w.text_tower(t, true);
        }
    }
    w.finish()?;
    Ok(store)
}

impl Writer<'_> {
    /// `with_clip_heads`: also `ln_post` / `proj` (plain CLIP embedding; ACD-CLIP does not read them).
    fn vision<B: Backend>(&mut self, v: &VisionTower<B>, with_clip_heads: bool) {
        self.put("visual.conv1.weight", &v.conv1);
        self.put("visual.class_embedding", &v.class_embedding);
        self.put("visual.positional_embedding", &v.positional_embedding);
        self.layer_norm("visual.ln_pre", &v.ln_pre);
        for (i, b) in v.blocks.iter().enumerate() {
            self.block(&format!("visual.transformer.resblocks.{i}"), b);
        }
        if with_clip_heads {
            self.layer_norm("visual.ln_post", &v.ln_post);
            self.put("visual.proj", &v.proj);
        }
    }

    fn text_tower<B: Backend>(&mut self, t: &TextTower<B>, with_clip_heads: bool) {
        self.put("token_embedding.weight", &t.token_embedding);
        self.put("positional_embedding", &t.positional_embedding);
        for (i, b) in t.blocks.iter().enumerate() {
            self.block(&format!("transformer.resblocks.{i}"), b);
        }
        if with_clip_heads {
            self.layer_norm("ln_final", &t.ln_final);
            self.put("text_projection", &t.text_projection);
        }
    }

    fn folded_adapters<B: Backend>(&mut self, folded: &[FoldedConvLora<B>]) {
        for (i, f) in folded.iter().enumerate() {
            let p = format!("image_adapter.folded.{i}");
            self.insert(format!("{p}.down.weight"), f.down.val(), true);
            self.insert(format!("{p}.up.weight"), f.up.val(), true);
            for (k, pair) in f.convs.iter().enumerate() {
                self.put(&format!("{p}.convs.{k}.conv_a"), &pair.conv_a);
                self.put(&format!("{p}.convs.{k}.conv_b"), &pair.conv_b);
            }
        }
    }

    fn image_heads<B: Backend>(&mut self, ad: &ImageAdapter<B>) {
        let p = "image_adapter";
        for i in 0..ad.m_i_w.len() {
            self.put(&format!("{p}.m_i_w.{i}.i_w"), &ad.m_i_w[i]);
            self.linear(&format!("{p}.seg_proj.{i}.fc.0"), &ad.seg_proj[i].fc0);
            self.linear(&format!("{p}.seg_proj.{i}.fc.2"), &ad.seg_proj[i].fc2);
            self.linear(&format!("{p}.det_proj.{i}.fc.0"), &ad.det_proj[i].fc0);
            self.linear(&format!("{p}.det_proj.{i}.fc.2"), &ad.det_proj[i].fc2);
            self.layer_norm(&format!("{p}.seg_layer_norms.{i}"), &ad.seg_layer_norms[i]);
            self.layer_norm(&format!("{p}.det_layer_norms.{i}"), &ad.det_layer_norms[i]);
            self.linear(
                &format!("{p}.vision_text_gate.{i}.0"),
                &ad.vision_text_gate[i].fc0,
            );
            self.linear(
                &format!("{p}.vision_text_gate.{i}.2"),
                &ad.vision_text_gate[i].fc2,
            );
        }
    }

    fn text_adapter<B: Backend>(&mut self, ta: &TextAdapter<B>) {
        for i in 0..ta.lora_adapters.len() {
            self.put(
                &format!("text_adapter.lora_adapters.{i}.lora_A"),
                &ta.lora_adapters[i].lora_a,
            );
            self.put(
                &format!("text_adapter.lora_adapters.{i}.lora_B"),
                &ta.lora_adapters[i].lora_b,
            );
            self.put(&format!("text_adapter.m_t_w.{i}.i_w"), &ta.m_t_w[i]);
            self.layer_norm(&format!("text_adapter.layer_norms.{i}"), &ta.layer_norms[i]);
        }
    }
}
