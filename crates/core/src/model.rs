//! ACD-CLIP: the frozen CLIP towers with the trainable adapters, heads and gateway
//! (`image_adapter.*` / `text_adapter.*` in the official checkpoints), and its forward passes.

use burn::module::{Module, Param};
use burn::tensor::activation::softmax;
use burn::tensor::{backend::Backend, Int, Tensor, TensorData};

use crate::adapters::blend::{blend, norm_match};
use crate::adapters::conv_lora::{ConvLoraAdapter, FoldedConvLora};
use crate::adapters::heads::{project_tokens, ProjectionMlp};
use crate::adapters::text_lora::TextLora;
use crate::anomaly_map::{fuse_score, MapOperators};
use crate::clip::text::{gather_rows, TextTower};
use crate::clip::vision::VisionTower;
use crate::config::AcdClipConfig;
use crate::fusion_gateway::{self as dfg, Gate};
use crate::nn::LayerNorm;
use crate::precision::{in_f32, l2_normalize, norm};
use crate::trace::Trace;

/// Image side (official `image_adapter`).
#[derive(Module, Debug)]
pub struct ImageAdapter<B: Backend> {
    /// Trainable Conv-LoRA adapters (empty after `fold`).
    pub lora_adapters: Vec<ConvLoraAdapter<B>>,
    /// Inference form (filled by `fold`).
    pub folded: Vec<FoldedConvLora<B>>,
    /// Per-channel blend weights `i_w`, `[D]` per group.
    pub m_i_w: Vec<Param<Tensor<B, 1>>>,
    pub seg_proj: Vec<ProjectionMlp<B>>,
    pub det_proj: Vec<ProjectionMlp<B>>,
    pub seg_layer_norms: Vec<LayerNorm<B>>,
    pub det_layer_norms: Vec<LayerNorm<B>>,
    pub vision_text_gate: Vec<Gate<B>>,
}

impl<B: Backend> ImageAdapter<B> {
    /// No groups (filled by the loader; empty for the training-free mode).
    pub fn empty() -> Self {
        Self {
            lora_adapters: Vec::new(),
            folded: Vec::new(),
            m_i_w: Vec::new(),
            seg_proj: Vec::new(),
            det_proj: Vec::new(),
            seg_layer_norms: Vec::new(),
            det_layer_norms: Vec::new(),
            vision_text_gate: Vec::new(),
        }
    }
}

/// Text side (official `text_adapter`).
#[derive(Module, Debug)]
pub struct TextAdapter<B: Backend> {
    pub lora_adapters: Vec<TextLora<B>>,
    pub m_t_w: Vec<Param<Tensor<B, 1>>>,
    pub layer_norms: Vec<LayerNorm<B>>,
}

#[derive(Module, Debug)]
pub struct AcdClip<B: Backend> {
    pub vision: VisionTower<B>,
    /// Needed for class embeddings of new categories; a bundle may ship precomputed embeddings only.
    pub text: Option<TextTower<B>>,
    pub image_adapter: ImageAdapter<B>,
    pub text_adapter: Option<TextAdapter<B>>,
}

/// Per-group head outputs of the vision pass.
pub struct VisionFeatures<B: Backend> {
    /// Unit seg tokens `[B, L, D_text]` per group.
    pub seg: Vec<Tensor<B, 3>>,
    /// Pooled det tokens `[B, D_text]` per group.
    pub det: Vec<Tensor<B, 2>>,
    /// The adapted patch tokens `G_i` `[B, L, D_vision]` per group (what a normal-reference memory keeps).
    pub tokens: Vec<Tensor<B, 3>>,
}

/// How `predict` makes the anomaly map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PredictOptions {
    /// Blur the map as at test time (the official `test_mode`); training's loss sees it unblurred.
    pub blur: bool,
    /// The official order (per group blur → upsample → mean → softmax) instead of one difference
    /// map of all groups, blurred and upsampled once; equal up to float rounding (docs/parity.md §5),
    /// the single map is cheaper.
    pub official_order: bool,
}

impl PredictOptions {
    /// Inference: blurred, one difference map.
    pub const INFERENCE: Self = Self {
        blur: true,
        official_order: false,
    };
    /// Training: unblurred, one difference map.
    pub const TRAINING: Self = Self {
        blur: false,
        official_order: false,
    };
    /// The official code's computation, step for step (the fixture comparison).
    pub const OFFICIAL: Self = Self {
        blur: true,
        official_order: true,
    };
}

/// What one forward pass produces.
pub struct Prediction<B: Backend> {
    /// Abnormal probability `[B, S_map, S_map]`.
    pub map: Tensor<B, 3>,
    /// `softmax(mean_i det_i·T_i)[abnormal]`, `[B]`.
    pub p_cls: Tensor<B, 1>,
    /// Fused image score, `[B]`.
    pub score: Tensor<B, 1>,
    /// Gate weights `[B, N, 2]` per group (for the teaching view).
    pub gate_weights: Vec<Tensor<B, 3>>,
    /// Per-group abnormal−normal logit maps at grid size `[B, g, g]` (before blur).
    pub group_logits: Vec<Tensor<B, 3>>,
}

impl<B: Backend> AcdClip<B> {
    /// A randomly initialised model (PyTorch's initialisers, docs/model.md §2.4) of this
    /// configuration, its values drawn now (so that a clone holds the same values).
    pub fn new(cfg: &AcdClipConfig, device: &B::Device) -> Self {
        let model = Self::skeleton(cfg, device);
        crate::nn::materialize(&model);
        model
    }

    /// The model's shape with nothing drawn yet: what the loaders fill (`weights::load`).
    pub(crate) fn skeleton(cfg: &AcdClipConfig, device: &B::Device) -> Self {
        let (dv, dt) = (cfg.clip.vision.width, cfg.clip.text.width);
        let a = &cfg.adapter;
        let n = a.n_groups;
        let blend_w = |d: usize, w: f64| crate::nn::constant([d], w, device);
        Self {
            vision: VisionTower::new(&cfg.clip, device),
            text: Some(TextTower::new(&cfg.clip, device)),
            image_adapter: ImageAdapter {
                lora_adapters: (0..n)
                    .map(|_| ConvLoraAdapter::new(dv, a, device))
                    .collect(),
                folded: Vec::new(),
                m_i_w: (0..n).map(|_| blend_w(dv, a.image_adapt_weight)).collect(),
                seg_proj: (0..n)
                    .map(|_| ProjectionMlp::new(dv, a.head_hidden, dt, device))
                    .collect(),
                det_proj: (0..n)
                    .map(|_| ProjectionMlp::new(dv, a.head_hidden, dt, device))
                    .collect(),
                seg_layer_norms: (0..n).map(|_| crate::nn::layer_norm(dt, device)).collect(),
                det_layer_norms: (0..n).map(|_| crate::nn::layer_norm(dt, device)).collect(),
                vision_text_gate: (0..n)
                    .map(|_| Gate::new(dt, a.gate_hidden, n, device))
                    .collect(),
            },
            text_adapter: Some(TextAdapter {
                lora_adapters: (0..n)
                    .map(|_| TextLora::new(dt, a.lora_rank, a.lora_scale() as f32, device))
                    .collect(),
                m_t_w: (0..n).map(|_| blend_w(dt, a.text_adapt_weight)).collect(),
                layer_norms: (0..n).map(|_| crate::nn::layer_norm(dt, device)).collect(),
            }),
        }
    }

    /// Replaces the Conv-LoRA adapters by their exact folded inference form (docs/model.md §2.3).
    pub fn fold(mut self) -> Self {
        if self.image_adapter.folded.is_empty() {
            self.image_adapter.folded = self
                .image_adapter
                .lora_adapters
                .iter()
                .map(|a| a.fold())
                .collect();
            self.image_adapter.lora_adapters.clear();
        }
        self
    }

    pub fn is_folded(&self) -> bool {
        !self.image_adapter.folded.is_empty()
    }

    /// The vision pass with the adapters written back into the stream after each group's last block.
    /// `images`: normalised `[B, 3, S, S]`.
    pub fn forward_vision(
        &self,
        cfg: &AcdClipConfig,
        images: Tensor<B, 4>,
        trace: &mut Trace,
    ) -> VisionFeatures<B> {
        let v = &self.vision;
        let ad = &self.image_adapter;
        let grid = cfg.clip.vision.grid();
        let levels = cfg.image_levels();
        let x = v.embed(images);
        trace.record(|| "vision.embed".into(), &x);
        let mut x = norm(&v.ln_pre, x);
        let mut groups = Vec::with_capacity(levels.len());
        let last_level = levels.last().copied().unwrap_or(0);
        for (l, block) in v.blocks.iter().take(last_level).enumerate() {
            x = block.forward(x, false);
            if l == 0 {
                trace.record(|| "vision.block0.out".into(), &x);
            }
            let Some(i) = levels.iter().position(|&lv| lv == l + 1) else {
                continue;
            };
            trace.record(|| format!("vision.group{i}.block_out"), &x);
            let [b, t, d] = x.dims();
            let cls = x.clone().narrow(1, 0, 1);
            let tokens = x.narrow(1, 1, t - 1);
            let prefix = format!("vision.group{i}");
            let raw = if self.is_folded() {
                ad.folded[i].forward(tokens.clone(), grid)
            } else {
                ad.lora_adapters[i].forward(tokens.clone(), grid, trace, &prefix)
            };
            trace.record(|| format!("vision.group{i}.adapter_raw"), &raw);
            let adapted = blend(tokens.clone(), norm_match(&tokens, raw), ad.m_i_w[i].val());
            trace.record(|| format!("vision.group{i}.tokens"), &adapted);
            debug_assert_eq!(adapted.dims(), [b, t - 1, d]);
            x = Tensor::cat(vec![cls, adapted.clone()], 1);
            groups.push(adapted);
        }
        let mut seg = Vec::with_capacity(groups.len());
        let mut det = Vec::with_capacity(groups.len());
        let tokens = groups.clone();
        for (i, g) in groups.into_iter().enumerate() {
            if trace.enabled() {
                let mlp = ad.seg_proj[i].forward(g.clone());
                trace.record(|| format!("seg.group{i}.mlp_out"), &mlp);
                let ln = norm(&ad.seg_layer_norms[i], mlp);
                trace.record(|| format!("seg.group{i}.ln_out"), &ln);
            }
            let s = project_tokens(&ad.seg_proj[i], &ad.seg_layer_norms[i], g.clone());
            trace.record(|| format!("seg.group{i}.tokens"), &s);
            let dtok = project_tokens(&ad.det_proj[i], &ad.det_layer_norms[i], g);
            let [b, _, dt] = dtok.dims();
            let dpool = dtok.mean_dim(1).reshape([b, dt]);
            trace.record(|| format!("det.group{i}.tokens"), &dpool);
            seg.push(s);
            det.push(dpool);
        }
        VisionFeatures { seg, det, tokens }
    }

    /// Gateway, maps and scores. `text`: the class embedding `[N, D_text, 2]`; `options`: blur or
    /// not, and which of the two equal map computations (`PredictOptions`).
    pub fn predict(
        &self,
        cfg: &AcdClipConfig,
        features: &VisionFeatures<B>,
        text: Tensor<B, 3>,
        ops: &MapOperators,
        options: PredictOptions,
        trace: &mut Trace,
    ) -> Prediction<B> {
        let PredictOptions {
            blur: test_mode,
            official_order: exact_reference,
        } = options;
        let ad = &self.image_adapter;
        let n = features.seg.len();
        let grid = ops.grid;
        let [_, dt, _] = text.dims();
        let mut gate_weights = Vec::with_capacity(n);
        let mut maps = Vec::with_capacity(n);
        let mut diff: Option<Tensor<B, 3>> = None;
        let mut group_logits = Vec::with_capacity(n);
        let mut cls_sum: Option<Tensor<B, 2>> = None;
        for i in 0..n {
            let seg = features.seg[i].clone();
            let (z, pooled) = ad.vision_text_gate[i].logits(seg.clone());
            if trace.enabled() {
                let [b, d] = pooled.dims();
                trace.record(
                    || format!("gate.group{i}.input"),
                    &pooled.reshape([b, 1, d]),
                );
                let [b, c] = z.dims();
                trace.record(
                    || format!("gate.group{i}.logits"),
                    &z.clone().reshape([b, 1, c]),
                );
            }
            let w = dfg::gate_weights(z);
            trace.record(|| format!("gate.group{i}.weights"), &w);
            let mixed = dfg::gated_text(w.clone(), text.clone());
            trace.record(|| format!("fusion.group{i}.text"), &mixed);
            gate_weights.push(w);
            // [B, 2, g, g]; the similarities and all after them in f32 whatever the precision
            let logits = dfg::logits_to_maps(dfg::map_logits(in_f32(seg), in_f32(mixed)), grid);
            trace.record(|| format!("seg.group{i}.logits_pre_blur"), &logits);
            let [b, _, _, _] = logits.dims();
            let d = logits.clone().narrow(1, 1, 1) - logits.clone().narrow(1, 0, 1);
            group_logits.push(d.clone().reshape([b, grid, grid]));
            if exact_reference {
                let blurred = if test_mode { ops.blur(logits) } else { logits };
                if test_mode {
                    trace.record(|| format!("seg.group{i}.logits_post_blur"), &blurred);
                }
                maps.push(ops.upsample(blurred));
            } else {
                let d = d.reshape([b, grid, grid]);
                diff = Some(match diff {
                    Some(acc) => acc + d,
                    None => d,
                });
            }
            let text_level = text.clone().narrow(0, i, 1).reshape([dt, 2]);
            let c = dfg::det_logits(in_f32(features.det[i].clone()), in_f32(text_level));
            trace.record(|| format!("det.group{i}.cls_logits"), &c);
            cls_sum = Some(match cls_sum {
                Some(acc) => acc + c,
                None => c,
            });
        }
        let map = if exact_reference {
            let mean = Tensor::stack::<5>(maps, 0).mean_dim(0).squeeze_dim::<4>(0);
            softmax(mean, 1).narrow(1, 1, 1).squeeze_dim::<3>(1)
        } else {
            let mean = diff.expect("at least one group") / n as f64;
            let [b, g, _] = mean.dims();
            let x = mean.reshape([b, 1, g, g]);
            let up = if test_mode {
                ops.blur_and_upsample(x)
            } else {
                ops.upsample(x)
            };
            burn::tensor::activation::sigmoid(up).squeeze_dim::<3>(1)
        };
        let cls = cls_sum.expect("at least one group") / n as f64;
        trace.record(|| "det.cls_logits_mean".into(), &cls);
        let p_cls = softmax(cls, 1).narrow(1, 1, 1).squeeze_dim::<1>(1);
        let (score, pixel_max) = fuse_score(p_cls.clone(), map.clone(), cfg.domain.score_weight());
        trace.record(|| "output.anomaly_map".into(), &map);
        trace.record(|| "output.image_score_softmax".into(), &p_cls);
        trace.record(|| "output.pixel_max".into(), &pixel_max);
        trace.record(|| "output.image_score_final".into(), &score);
        Prediction {
            map,
            p_cls,
            score,
            gate_weights,
            group_logits,
        }
    }

    /// Adapted text features per group for a batch of prompts (official `encode_text`):
    /// `[P, D_text]` per group, `LN_i(stream)[EOT]`. `tokens` `[P, T]`, `eot[p]` the EOT index of row p.
    pub fn encode_text_groups(
        &self,
        cfg: &AcdClipConfig,
        tokens: Tensor<B, 2, Int>,
        eot: &[usize],
        trace: &mut Trace,
        prefix: &str,
    ) -> Result<Vec<Tensor<B, 2>>, crate::Error> {
        let text = self.text.as_ref().ok_or(crate::Error::NoTextTower)?;
        let ad = self
            .text_adapter
            .as_ref()
            .ok_or(crate::Error::NoTextTower)?;
        let levels = cfg.text_levels();
        let x = text.embed(tokens);
        trace.record(|| format!("{prefix}.embed"), &x);
        let mut x = x;
        let mut features = Vec::with_capacity(levels.len());
        for (l, block) in text.blocks.iter().enumerate() {
            x = block.forward(x, true);
            if l == 0 {
                trace.record(|| format!("{prefix}.block0.out"), &x);
            }
            let Some(i) = levels.iter().position(|&lv| lv == l + 1) else {
                continue;
            };
            trace.record(|| format!("{prefix}.group{i}.block_out"), &x);
            let raw = ad.lora_adapters[i].forward(x.clone());
            trace.record(|| format!("{prefix}.group{i}.adapter_raw"), &raw);
            x = blend(x.clone(), norm_match(&x, raw), ad.m_t_w[i].val());
            trace.record(|| format!("{prefix}.group{i}.stream"), &x);
            let f = norm(&ad.layer_norms[i], gather_rows(x.clone(), eot));
            trace.record(|| format!("{prefix}.group{i}.features"), &f);
            features.push(f);
        }
        Ok(features)
    }

    /// Per-class text embedding `[N, D_text, 2]` (column 0 normal, 1 abnormal): per state and level,
    /// normalise each sentence feature, average, normalise again (docs/model.md §3.3).
    pub fn class_embedding(
        &self,
        cfg: &AcdClipConfig,
        normal: &TokenBatch,
        abnormal: &TokenBatch,
        device: &B::Device,
        trace: &mut Trace,
    ) -> Result<Tensor<B, 3>, crate::Error> {
        let mut columns = Vec::with_capacity(2);
        for (batch, prefix) in [(normal, "text.normal"), (abnormal, "text.abnormal")] {
            let feats =
                self.encode_text_groups(cfg, batch.to_tensor(device), &batch.eot, trace, prefix)?;
            let per_level: Vec<Tensor<B, 1>> = feats
                .into_iter()
                .map(|f| {
                    let [_, d] = f.dims();
                    l2_normalize(l2_normalize(f).mean_dim(0)).reshape([d])
                })
                .collect();
            columns.push(Tensor::stack::<2>(per_level, 0)); // [N, D]
        }
        Ok(Tensor::stack::<3>(columns, 2))
    }
}

/// Tokenised prompts, trimmed to the longest EOT (exact: the causal mask hides later positions).
#[derive(Clone, Debug)]
pub struct TokenBatch {
    pub ids: Vec<i64>,
    pub rows: usize,
    pub len: usize,
    pub eot: Vec<usize>,
}

impl TokenBatch {
    /// From full-context rows (`[SOT, …, EOT, 0, …]`); EOT is the position of the largest id.
    pub fn new(rows: &[Vec<u32>]) -> Self {
        let eot: Vec<usize> = rows
            .iter()
            .map(|r| {
                r.iter()
                    .enumerate()
                    .max_by_key(|(i, &v)| (v, std::cmp::Reverse(*i)))
                    .map(|(i, _)| i)
                    .unwrap_or(0)
            })
            .collect();
        let len = eot.iter().map(|e| e + 1).max().unwrap_or(1);
        let ids = rows
            .iter()
            .flat_map(|r| r.iter().take(len).map(|&v| v as i64))
            .collect();
        Self {
            ids,
            rows: rows.len(),
            len,
            eot,
        }
    }

    pub fn to_tensor<B: Backend>(&self, device: &B::Device) -> Tensor<B, 2, Int> {
        Tensor::from_data(
            TensorData::new(self.ids.clone(), [self.rows, self.len]),
            device,
        )
    }
}
