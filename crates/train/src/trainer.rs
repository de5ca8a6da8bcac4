//! One optimisation step of the official recipe (docs/model.md §5.2): CLIP frozen (unless
//! `train_backbone`), per-class text embeddings recomputed with gradients every step, the vision
//! forward, the 2-channel map without blur, the four losses, blend-weight clipping, and Adam with
//! one learning rate per parameter group.

use std::collections::HashMap;

use acd_core::anomaly_map::MapOperators;
use acd_core::clip::tokenizer::ClipTokenizer;
use acd_core::model::{PredictOptions, TokenBatch, VisionFeatures};
use acd_core::prompts::prompt_tokens;
use acd_core::trace::Trace;
use acd_core::{AcdClip, AcdClipConfig};
use burn::module::{Module, Param, ParamId};
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{Adam, AdamConfig, GradientsParams, Optimizer};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{ElementConversion, Int, Tensor, TensorData};

use crate::batch::Batch;
use crate::losses::acd_clip_loss;
use crate::recipe::Recipe;
use crate::TrainError;

type Opt<B> = OptimizerAdaptor<Adam, AcdClip<B>, B>;

/// Loss values of one step (host copies, for logs and progress bars).
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct StepLosses {
    pub total: f64,
    pub cross_entropy: f64,
    pub focal: f64,
    pub dice_normal: f64,
    pub dice_abnormal: f64,
}

pub struct Trainer<B: AutodiffBackend> {
    pub config: AcdClipConfig,
    pub recipe: Recipe,
    device: B::Device,
    model: Option<AcdClip<B>>,
    opt_image: Opt<B>,
    opt_text: Opt<B>,
    opt_backbone: Opt<B>,
    tokenizer: ClipTokenizer,
    prompts: HashMap<String, (TokenBatch, TokenBatch)>,
    ops: MapOperators,
    /// Optimisation steps taken (for the warm-up).
    steps_done: usize,
}

/// Official Adam: betas (0.9, 0.999), eps 1e-8, no weight decay.
fn adam<B: AutodiffBackend>() -> Opt<B> {
    AdamConfig::new()
        .with_beta_1(0.9)
        .with_beta_2(0.999)
        .with_epsilon(1e-8)
        .init()
}

impl<B: AutodiffBackend> Trainer<B> {
    /// `model` must be in its trainable (unfolded) form and carry the text tower and adapters.
    pub fn new(
        model: AcdClip<B>,
        config: AcdClipConfig,
        recipe: Recipe,
        device: B::Device,
    ) -> Result<Self, TrainError> {
        if model.is_folded() {
            return Err(TrainError::Model(
                "the model's Conv-LoRA adapters are folded (an inference bundle): train from a checkpoint".into(),
            ));
        }
        if model.text.is_none() || model.text_adapter.is_none() {
            return Err(TrainError::Model(
                "training needs the text tower and text adapters (per-step class embeddings)"
                    .into(),
            ));
        }
        let mut model = model;
        if !recipe.train_backbone {
            // Frozen CLIP: gradients flow through it but none is kept for its weights.
            model.vision = model.vision.no_grad();
            model.text = model.text.map(|t| t.no_grad());
        }
        let grid = config.clip.vision.grid();
        Ok(Self {
            ops: MapOperators::new(grid, config.map_size, None),
            config,
            recipe,
            device,
            model: Some(model),
            opt_image: adam(),
            opt_text: adam(),
            opt_backbone: adam(),
            tokenizer: ClipTokenizer::new(),
            prompts: HashMap::new(),
            steps_done: 0,
        })
    }

    pub fn model(&self) -> &AcdClip<B> {
        self.model.as_ref().expect("model present between steps")
    }

    pub fn into_model(self) -> AcdClip<B> {
        self.model.expect("model present between steps")
    }

    pub fn device(&self) -> &B::Device {
        &self.device
    }

    fn prompt_batches(&mut self, class: &str) -> Result<(TokenBatch, TokenBatch), TrainError> {
        if let Some(p) = self.prompts.get(class) {
            return Ok(p.clone());
        }
        let p = prompt_tokens(&self.tokenizer, &crate::evaluation::category_text(class))
            .map_err(|e| TrainError::Model(e.to_string()))?;
        self.prompts.insert(class.to_string(), p.clone());
        Ok(p)
    }

    /// One step on `batch` at 1-based `epoch` (for the StepLR factor).
    pub fn step(&mut self, batch: &Batch, epoch: usize) -> Result<StepLosses, TrainError> {
        let n = batch.len();
        if n == 0 {
            return Err(TrainError::Data("empty batch".into()));
        }
        let s = self.config.clip.vision.image_size;
        let m = self.config.map_size;
        if batch.images.len() != n * 3 * s * s || batch.masks.len() != n * m * m {
            return Err(TrainError::Data(format!(
                "batch tensors do not match {n} images of {s}² (map {m}²)"
            )));
        }
        let dev = self.device.clone();
        let images =
            Tensor::<B, 4>::from_data(TensorData::new(batch.images.clone(), [n, 3, s, s]), &dev);
        let masks =
            Tensor::<B, 3>::from_data(TensorData::new(batch.masks.clone(), [n, m, m]), &dev);
        let labels = Tensor::<B, 1>::from_data(TensorData::new(batch.labels.clone(), [n]), &dev);

        // Samples grouped by class: each group gets its own class embedding (computed with grad).
        let mut classes: Vec<(String, Vec<usize>)> = Vec::new();
        for (i, c) in batch.class_names.iter().enumerate() {
            match classes.iter_mut().find(|(k, _)| k == c) {
                Some((_, idx)) => idx.push(i),
                None => classes.push((c.clone(), vec![i])),
            }
        }
        let mut prompt_sets = Vec::with_capacity(classes.len());
        for (c, _) in &classes {
            prompt_sets.push(self.prompt_batches(c)?);
        }

        let model = self.model.take().expect("model present between steps");
        let cfg = &self.config;
        let features = model.forward_vision(cfg, images, &mut Trace::off());
        let mut total: Option<Tensor<B, 1>> = None;
        let mut parts = StepLosses::default();
        for ((_, idx), (normal, abnormal)) in classes.iter().zip(&prompt_sets) {
            let text = match model.class_embedding(cfg, normal, abnormal, &dev, &mut Trace::off()) {
                Ok(t) => t,
                Err(e) => {
                    self.model = Some(model);
                    return Err(TrainError::Model(e.to_string()));
                }
            };
            let (feats, mask, label) = if idx.len() == n {
                (
                    VisionFeatures {
                        seg: features.seg.clone(),
                        det: features.det.clone(),
                        tokens: Vec::new(),
                    },
                    masks.clone(),
                    labels.clone(),
                )
            } else {
                let ids = Tensor::<B, 1, Int>::from_data(
                    TensorData::new(
                        idx.iter().map(|&i| i as i64).collect::<Vec<_>>(),
                        [idx.len()],
                    ),
                    &dev,
                );
                (
                    VisionFeatures {
                        seg: features
                            .seg
                            .iter()
                            .map(|t| t.clone().select(0, ids.clone()))
                            .collect(),
                        det: features
                            .det
                            .iter()
                            .map(|t| t.clone().select(0, ids.clone()))
                            .collect(),
                        tokens: Vec::new(),
                    },
                    masks.clone().select(0, ids.clone()),
                    labels.clone().select(0, ids),
                )
            };
            let pred = model.predict(
                cfg,
                &feats,
                text,
                &self.ops,
                PredictOptions::TRAINING,
                &mut Trace::off(),
            );
            let l = acd_clip_loss(pred.map, mask, pred.p_cls, label);
            // Every term is a mean over samples (or over all pixels of equal-size maps), so the
            // class groups combine exactly with weights n_g / n.
            let w = idx.len() as f64 / n as f64;
            let host = |t: &Tensor<B, 1>| t.clone().into_scalar().elem::<f64>() * w;
            parts.cross_entropy += host(&l.cross_entropy);
            parts.focal += host(&l.focal);
            parts.dice_normal += host(&l.dice_normal);
            parts.dice_abnormal += host(&l.dice_abnormal);
            let weighted = l.total * w;
            total = Some(match total {
                Some(acc) => acc + weighted,
                None => weighted,
            });
        }
        let total = total.expect("at least one class group");
        parts.total = total.clone().into_scalar().elem::<f64>();
        if !parts.total.is_finite() {
            self.model = Some(model);
            return Err(TrainError::Diverged(parts.total));
        }

        let mut grads = total.backward();
        let mut image_grads = GradientsParams::from_module(&mut grads, &model.image_adapter);
        let mut text_grads = GradientsParams::from_module(&mut grads, &model.text_adapter);
        let max_norm = self.recipe.blend_grad_max_norm;
        for w in &model.image_adapter.m_i_w {
            clip_grad_norm::<B>(&mut image_grads, w, max_norm);
        }
        if let Some(ta) = &model.text_adapter {
            for w in &ta.m_t_w {
                clip_grad_norm::<B>(&mut text_grads, w, max_norm);
            }
        }
        let backbone = if self.recipe.train_backbone {
            Some((
                GradientsParams::from_module(&mut grads, &model.vision),
                GradientsParams::from_module(&mut grads, &model.text),
            ))
        } else {
            None
        };
        let f = self.recipe.lr_factor(epoch) * self.recipe.warmup_factor(self.steps_done);
        self.steps_done += 1;
        let mut model = self
            .opt_image
            .step(self.recipe.image_lr * f, model, image_grads);
        model = self
            .opt_text
            .step(self.recipe.text_lr * f, model, text_grads);
        if let Some((gv, gt)) = backbone {
            let lr = self.recipe.backbone_lr * f;
            model = self.opt_backbone.step(lr, model, gv);
            model = self.opt_backbone.step(lr, model, gt);
        }
        self.model = Some(model);
        Ok(parts)
    }
}

/// PyTorch `clip_grad_norm_(param, max_norm)` for one parameter: scale its gradient by
/// `max_norm / (‖g‖ + 1e-6)` when that is below 1.
fn clip_grad_norm<B: AutodiffBackend>(
    grads: &mut GradientsParams,
    param: &Param<Tensor<B, 1>>,
    max_norm: f64,
) {
    let id: ParamId = param.id;
    let Some(g) = grads.remove::<B::InnerBackend, 1>(id) else {
        return;
    };
    let norm = g
        .clone()
        .powi_scalar(2)
        .sum()
        .sqrt()
        .into_scalar()
        .elem::<f64>();
    let coef = max_norm / (norm + 1e-6);
    let g = if coef < 1.0 { g * coef } else { g };
    grads.register(id, g);
}
