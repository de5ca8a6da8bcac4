//! Builds the model from a `TensorStore` with open_clip / official names: the model is made in the
//! shape its configuration gives (lazily: nothing is drawn at random), then every parameter is
//! filled from the checkpoint name and layout `remap` gives its module path, with its shape
//! checked. No parameter is listed here. Also infers configurations from checkpoint shapes.

use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::{backend::Backend, Tensor, TensorData};

use super::remap::ParamPath;
use super::store::{TensorStore, WeightError};
use crate::adapters::conv_lora::FoldedConvLora;
use crate::clip::pos_embed::{grid_of, resize_positional_embedding};
use crate::clip::text::TextTower;
use crate::clip::vision::VisionTower;
use crate::config::{
    AcdClipConfig, Activation, AdapterConfig, ClipConfig, TextConfig, VisionConfig,
};
use crate::model::{AcdClip, ImageAdapter};

/// The parameters only the plain CLIP embedding reads (ACD-CLIP does not): kept at their initial
/// values when a checkpoint for ACD-CLIP lacks them.
const CLIP_HEADS: &[&str] = &[
    "visual.ln_post.weight",
    "visual.ln_post.bias",
    "visual.proj",
    "ln_final.weight",
    "ln_final.bias",
    "text_projection",
];

/// Walks a module and fills each parameter from the store; the first failure is kept.
struct Filler<'a> {
    store: &'a mut TensorStore,
    at: ParamPath,
    clip_heads_optional: bool,
    error: Option<WeightError>,
}

impl<B: Backend> ModuleMapper<B> for Filler<'_> {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.at.enter(name, container_type);
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.at.exit();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let (name, layout) = self.at.checkpoint();
        let optional = self.clip_heads_optional && CLIP_HEADS.contains(&name.as_str());
        if self.error.is_some() || (optional && !self.store.contains(&name)) {
            return param;
        }
        let shape = param.lazy_shape().to_vec();
        match self.store.take(&name, &layout.checkpoint_shape(&shape)) {
            Ok(raw) => {
                let data = TensorData::new(layout.to_module(raw).data, shape);
                let (id, device) = (param.id, param.lazy_device());
                param.transform_for_load(Tensor::from_data(data, &device), id)
            }
            Err(e) => {
                self.error = Some(e);
                param
            }
        }
    }
}

/// `module` (at `root`, its path in `AcdClip`) with every parameter taken from `store`.
fn fill<B: Backend, M: Module<B>>(
    module: M,
    root: &str,
    store: &mut TensorStore,
    clip_heads_optional: bool,
) -> Result<M, WeightError> {
    let at = ParamPath::under(root);
    let mut filler = Filler {
        store,
        at,
        clip_heads_optional,
        error: None,
    };
    let module = module.map(&mut filler);
    filler.error.map_or(Ok(module), Err)
}

/// A positional embedding trained for another grid, resized to this model's (docs/model.md §1.2).
fn resize_positional_embedding_in(
    store: &mut TensorStore,
    cfg: &ClipConfig,
) -> Result<(), WeightError> {
    let (name, v) = ("visual.positional_embedding", &cfg.vision);
    if let Some(raw) = store.get(name) {
        if raw.shape.len() == 2 && raw.shape[1] == v.width && raw.shape[0] != v.num_patches() + 1 {
            let resized = resize_positional_embedding(raw, v.grid())
                .map_err(|e| WeightError::Other(e.to_string()))?;
            store.insert(name, resized);
        }
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
    if store.contains("image_adapter.folded.0.down.weight") {
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

fn count_indexed(store: &TensorStore, prefix: &str, suffix: &str) -> usize {
    (0..)
        .take_while(|i| store.contains(&format!("{prefix}.{i}{suffix}")))
        .count()
}

/// 1 + the largest block index under `prefix.` (not the first gap: a checkpoint missing one
/// block's weights must fail to load, not load as a shallower model).
fn count_blocks(store: &TensorStore, prefix: &str) -> usize {
    let start = format!("{prefix}.");
    store
        .names()
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
    store.shape(name).ok_or_else(|| WeightError::Missing {
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
    let embed_dim = store
        .shape("visual.proj")
        .map(|s| s[1])
        .or(store.shape("text_projection").map(|s| s[1]))
        .unwrap_or(twidth);
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
