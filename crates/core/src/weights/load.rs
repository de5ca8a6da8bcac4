//! Builds the model from a `TensorStore` with open_clip / official names, checking every shape, and
//! infers configurations from checkpoint shapes where a checkpoint determines them.

use burn::module::Param;
use burn::tensor::{backend::Backend, Tensor, TensorData};

use super::raw::RawTensor;
use super::store::{TensorStore, WeightError};
use crate::adapters::conv_lora::{ConvLoraAdapter, ConvLoraBlock, FoldedConvLora, FoldedConvPair};
use crate::adapters::heads::ProjectionMlp;
use crate::adapters::text_lora::TextLora;
use crate::clip::block::{Mlp, MultiHeadAttention, ResidualAttentionBlock};
use crate::clip::pos_embed::{grid_of, resize_positional_embedding};
use crate::clip::text::TextTower;
use crate::clip::vision::VisionTower;
use crate::config::{
    AcdClipConfig, Activation, AdapterConfig, ClipConfig, TextConfig, VisionConfig,
};
use crate::fusion_gateway::Gate;
use crate::model::{AcdClip, ImageAdapter, TextAdapter};
use crate::nn::{LayerNorm, Linear};

struct Loader<'a, B: Backend> {
    store: &'a mut TensorStore,
    device: &'a B::Device,
}

fn to_tensor<B: Backend, const D: usize>(t: RawTensor, device: &B::Device) -> Tensor<B, D> {
    Tensor::from_data(TensorData::new(t.data, t.shape), device)
}

impl<B: Backend> Loader<'_, B> {
    fn raw(&mut self, name: &str, shape: &[usize]) -> Result<RawTensor, WeightError> {
        self.store.take(name, shape)
    }
    fn param<const D: usize>(
        &mut self,
        name: &str,
        shape: [usize; D],
    ) -> Result<Param<Tensor<B, D>>, WeightError> {
        Ok(Param::from_tensor(to_tensor(
            self.raw(name, &shape)?,
            self.device,
        )))
    }
    /// A PyTorch Linear (`weight [out, in]`), stored transposed.
    fn linear(
        &mut self,
        prefix: &str,
        d_in: usize,
        d_out: usize,
        bias: bool,
    ) -> Result<Linear<B>, WeightError> {
        let w = self.raw(&format!("{prefix}.weight"), &[d_out, d_in])?;
        let w = super::remap::transpose(&w).expect("2-D");
        Ok(Linear {
            weight: Param::from_tensor(to_tensor(w, self.device)),
            bias: if bias {
                Some(self.param(&format!("{prefix}.bias"), [d_out])?)
            } else {
                None
            },
        })
    }
    fn layer_norm(&mut self, prefix: &str, d: usize) -> Result<LayerNorm<B>, WeightError> {
        Ok(crate::nn::layer_norm_with(
            self.param(&format!("{prefix}.weight"), [d])?,
            self.param(&format!("{prefix}.bias"), [d])?,
            self.device,
        ))
    }
    fn block(
        &mut self,
        prefix: &str,
        width: usize,
        heads: usize,
        mlp: usize,
        act: Activation,
    ) -> Result<ResidualAttentionBlock<B>, WeightError> {
        let in_w = self.raw(
            &format!("{prefix}.attn.in_proj_weight"),
            &[3 * width, width],
        )?;
        let in_proj = Linear {
            weight: Param::from_tensor(to_tensor(
                super::remap::transpose(&in_w).expect("2-D"),
                self.device,
            )),
            bias: Some(self.param(&format!("{prefix}.attn.in_proj_bias"), [3 * width])?),
        };
        Ok(ResidualAttentionBlock {
            ln_1: self.layer_norm(&format!("{prefix}.ln_1"), width)?,
            attn: MultiHeadAttention {
                in_proj,
                out_proj: self.linear(&format!("{prefix}.attn.out_proj"), width, width, true)?,
                heads,
            },
            ln_2: self.layer_norm(&format!("{prefix}.ln_2"), width)?,
            mlp: Mlp {
                c_fc: self.linear(&format!("{prefix}.mlp.c_fc"), width, mlp, true)?,
                c_proj: self.linear(&format!("{prefix}.mlp.c_proj"), mlp, width, true)?,
            },
            quick_gelu: act == Activation::QuickGelu,
        })
    }
}

/// The vision tower; a positional embedding trained for another grid is resized
/// (docs/model.md §1.2).
pub fn load_vision<B: Backend>(
    store: &mut TensorStore,
    cfg: &ClipConfig,
    device: &B::Device,
) -> Result<VisionTower<B>, WeightError> {
    let v = &cfg.vision;
    let mut l = Loader::<B> { store, device };
    let pos_name = "visual.positional_embedding";
    let pos = match l.store.get(pos_name) {
        Some(raw)
            if raw.shape.len() == 2
                && raw.shape[1] == v.width
                && raw.shape[0] != v.num_patches() + 1 =>
        {
            let resized = resize_positional_embedding(raw, v.grid())
                .map_err(|e| WeightError::Other(e.to_string()))?;
            l.store.insert(pos_name, resized);
            l.param(pos_name, [v.num_patches() + 1, v.width])?
        }
        _ => l.param(pos_name, [v.num_patches() + 1, v.width])?,
    };
    let blocks = (0..v.layers)
        .map(|i| {
            l.block(
                &format!("visual.transformer.resblocks.{i}"),
                v.width,
                v.heads,
                v.mlp_hidden,
                cfg.activation,
            )
        })
        .collect::<Result<_, _>>()?;
    // ln_post / proj only serve the plain CLIP embedding; ACD-CLIP does not read them.
    let ln_post = if l.store.contains("visual.ln_post.weight") {
        l.layer_norm("visual.ln_post", v.width)?
    } else {
        crate::nn::layer_norm(v.width, device)
    };
    let proj = if l.store.contains("visual.proj") {
        l.param("visual.proj", [v.width, cfg.embed_dim])?
    } else {
        Param::from_tensor(Tensor::zeros([v.width, cfg.embed_dim], device))
    };
    Ok(VisionTower {
        conv1: l.param(
            "visual.conv1.weight",
            [v.width, 3, v.patch_size, v.patch_size],
        )?,
        class_embedding: l.param("visual.class_embedding", [v.width])?,
        positional_embedding: pos,
        ln_pre: l.layer_norm("visual.ln_pre", v.width)?,
        blocks,
        ln_post,
        proj,
        patch_size: v.patch_size,
    })
}

pub fn load_text<B: Backend>(
    store: &mut TensorStore,
    cfg: &ClipConfig,
    device: &B::Device,
) -> Result<TextTower<B>, WeightError> {
    let t = &cfg.text;
    let mut l = Loader::<B> { store, device };
    let blocks = (0..t.layers)
        .map(|i| {
            l.block(
                &format!("transformer.resblocks.{i}"),
                t.width,
                t.heads,
                t.mlp_hidden,
                cfg.activation,
            )
        })
        .collect::<Result<_, _>>()?;
    let ln_final = if l.store.contains("ln_final.weight") {
        l.layer_norm("ln_final", t.width)?
    } else {
        crate::nn::layer_norm(t.width, device)
    };
    let text_projection = if l.store.contains("text_projection") {
        l.param("text_projection", [t.width, cfg.embed_dim])?
    } else {
        Param::from_tensor(Tensor::zeros([t.width, cfg.embed_dim], device))
    };
    Ok(TextTower {
        token_embedding: l.param("token_embedding.weight", [t.vocab_size, t.width])?,
        positional_embedding: l.param("positional_embedding", [t.context_length, t.width])?,
        blocks,
        ln_final,
        text_projection,
    })
}

pub fn load_image_adapter<B: Backend>(
    store: &mut TensorStore,
    cfg: &AcdClipConfig,
    device: &B::Device,
) -> Result<ImageAdapter<B>, WeightError> {
    let (dv, dt) = (cfg.clip.vision.width, cfg.clip.text.width);
    let a = &cfg.adapter;
    let (r, rc, n) = (a.lora_rank, a.conv_lora_rank, a.n_groups);
    let nk = a.kernels.len();
    let mut l = Loader::<B> { store, device };
    let p = "image_adapter";
    let mut ad = ImageAdapter::empty();
    // A bundle holds the folded inference form (`image_adapter.folded.*`), a checkpoint the trainable one.
    let folded = l.store.contains(&format!("{p}.folded.0.down.weight"));
    for i in 0..n {
        if folded {
            let fp = format!("{p}.folded.{i}");
            let down = l.linear(&format!("{fp}.down"), dv, nk * r, false)?.weight;
            let up = l.linear(&format!("{fp}.up"), nk * r, dv, false)?.weight;
            let mut convs = Vec::new();
            for (k, &ks) in a.kernels.iter().enumerate() {
                convs.push(FoldedConvPair {
                    conv_a: l.param(&format!("{fp}.convs.{k}.conv_a"), [rc, r, ks, ks])?,
                    conv_b: l.param(&format!("{fp}.convs.{k}.conv_b"), [r, rc, ks, ks])?,
                });
            }
            ad.folded.push(FoldedConvLora { down, convs, up });
        } else {
            let mut blocks = Vec::new();
            for (j, &k) in a.kernels.iter().enumerate() {
                let bp = format!("{p}.lora_adapters.{i}.conv_lora_blocks.{j}");
                blocks.push(ConvLoraBlock {
                    lora_a: l.param(&format!("{bp}.lora_A"), [dv, r])?,
                    lora_b: l.param(&format!("{bp}.lora_B"), [r, dv])?,
                    conv_lora_a: l.param(&format!("{bp}.conv_lora_A.weight"), [rc, r, k, k])?,
                    conv_lora_b: l.param(&format!("{bp}.conv_lora_B.weight"), [r, rc, k, k])?,
                    lora_scale: a.lora_scale() as f32,
                    conv_scale: a.conv_lora_scale() as f32,
                });
            }
            let fuse = l.raw(
                &format!("{p}.lora_adapters.{i}.fusion_conv.weight"),
                &[dv, nk * dv, 1, 1],
            )?;
            let fuse = super::remap::transpose(&RawTensor::new(vec![dv, nk * dv], fuse.data))
                .expect("2-D");
            ad.lora_adapters.push(ConvLoraAdapter {
                conv_lora_blocks: blocks,
                fusion: Param::from_tensor(to_tensor(fuse, device)),
            });
        }
        ad.m_i_w.push(l.param(&format!("{p}.m_i_w.{i}.i_w"), [dv])?);
        for (kind, list) in [
            ("seg_proj", &mut ad.seg_proj),
            ("det_proj", &mut ad.det_proj),
        ] {
            list.push(ProjectionMlp {
                fc0: l.linear(&format!("{p}.{kind}.{i}.fc.0"), dv, a.head_hidden, true)?,
                fc2: l.linear(&format!("{p}.{kind}.{i}.fc.2"), a.head_hidden, dt, true)?,
            });
        }
        ad.seg_layer_norms
            .push(l.layer_norm(&format!("{p}.seg_layer_norms.{i}"), dt)?);
        ad.det_layer_norms
            .push(l.layer_norm(&format!("{p}.det_layer_norms.{i}"), dt)?);
        ad.vision_text_gate.push(Gate {
            fc0: l.linear(
                &format!("{p}.vision_text_gate.{i}.0"),
                dt,
                a.gate_hidden,
                true,
            )?,
            fc2: l.linear(
                &format!("{p}.vision_text_gate.{i}.2"),
                a.gate_hidden,
                2 * n,
                true,
            )?,
        });
    }
    Ok(ad)
}

pub fn load_text_adapter<B: Backend>(
    store: &mut TensorStore,
    cfg: &AcdClipConfig,
    device: &B::Device,
) -> Result<TextAdapter<B>, WeightError> {
    let dt = cfg.clip.text.width;
    let a = &cfg.adapter;
    let mut l = Loader::<B> { store, device };
    let mut ad = TextAdapter {
        lora_adapters: Vec::new(),
        m_t_w: Vec::new(),
        layer_norms: Vec::new(),
    };
    for i in 0..a.n_groups {
        ad.lora_adapters.push(TextLora {
            lora_a: l.param(
                &format!("text_adapter.lora_adapters.{i}.lora_A"),
                [dt, a.lora_rank],
            )?,
            lora_b: l.param(
                &format!("text_adapter.lora_adapters.{i}.lora_B"),
                [a.lora_rank, dt],
            )?,
            scale: a.lora_scale() as f32,
        });
        ad.m_t_w
            .push(l.param(&format!("text_adapter.m_t_w.{i}.i_w"), [dt])?);
        ad.layer_norms
            .push(l.layer_norm(&format!("text_adapter.layer_norms.{i}"), dt)?);
    }
    Ok(ad)
}

/// CLIP alone (the training-free mode): the towers with their projection heads, no adapters.
/// `with_text`: also the text tower (needed to embed categories).
pub fn load_clip_only<B: Backend>(
    store: &mut TensorStore,
    cfg: &AcdClipConfig,
    with_text: bool,
    device: &B::Device,
) -> Result<AcdClip<B>, WeightError> {
    Ok(AcdClip {
        vision: load_vision(store, &cfg.clip, device)?,
        text: if with_text {
            Some(load_text(store, &cfg.clip, device)?)
        } else {
            None
        },
        image_adapter: ImageAdapter::empty(),
        text_adapter: None,
    })
}

/// The whole model. `with_text`: also load the text tower and text adapters (needed to embed
/// categories; a bundle with precomputed embeddings can skip them).
pub fn load_acd_clip<B: Backend>(
    store: &mut TensorStore,
    cfg: &AcdClipConfig,
    with_text: bool,
    device: &B::Device,
) -> Result<AcdClip<B>, WeightError> {
    cfg.validate()
        .map_err(|e| WeightError::Other(e.to_string()))?;
    Ok(AcdClip {
        vision: load_vision(store, &cfg.clip, device)?,
        text: if with_text {
            Some(load_text(store, &cfg.clip, device)?)
        } else {
            None
        },
        image_adapter: load_image_adapter(store, cfg, device)?,
        text_adapter: if with_text {
            Some(load_text_adapter(store, cfg, device)?)
        } else {
            None
        },
    })
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
