//! The training hyper-parameters: the official recipe (docs/model.md §5.2) by default, plus the
//! options this project adds (backbone training for small models trained from scratch, seeds).

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recipe {
    /// 20 in the paper.
    pub epochs: usize,
    /// 6 in the paper.
    pub batch_size: usize,
    /// Adam learning rate of `image_adapter` (1e-3).
    pub image_lr: f64,
    /// Adam learning rate of `text_adapter` (5e-4).
    pub text_lr: f64,
    /// `StepLR(step_size = 1 epoch, gamma)`: epoch e (1-based) uses `lr · gamma^(e−1)` (0.9).
    pub lr_gamma: f64,
    /// `clip_grad_norm_(…, 1.0)` applied to each blend weight (`i_w`) separately; nothing else clipped.
    pub blend_grad_max_norm: f64,
    /// Not in the paper: also train both CLIP towers (for small backbones trained from scratch).
    pub train_backbone: bool,
    /// Learning rate of the backbone when it is trained.
    pub backbone_lr: f64,
    /// The official augmentations (noise, colour jitter, rotation, translation, flips).
    pub augment: bool,
    /// Seed of the data order, augmentations and synthetic anomalies.
    pub seed: u64,
    /// Not in the paper (0 there): linear learning-rate warm-up over the first steps, which
    /// keeps a backbone trained from scratch from diverging early.
    #[serde(default)]
    pub warmup_steps: usize,
}

impl Default for Recipe {
    fn default() -> Self {
        Self {
            epochs: 20,
            batch_size: 6,
            image_lr: 1e-3,
            text_lr: 5e-4,
            lr_gamma: 0.9,
            blend_grad_max_norm: 1.0,
            train_backbone: false,
            backbone_lr: 2e-4,
            augment: true,
            seed: 0,
            warmup_steps: 0,
        }
    }
}

impl Recipe {
    /// The StepLR factor of a 1-based epoch.
    pub fn lr_factor(&self, epoch: usize) -> f64 {
        self.lr_gamma.powi(epoch.saturating_sub(1) as i32)
    }

    /// The warm-up factor of the 0-based optimisation step: (step + 1) / warmup_steps, then 1.
    pub fn warmup_factor(&self, step: usize) -> f64 {
        if step >= self.warmup_steps {
            1.0
        } else {
            (step + 1) as f64 / self.warmup_steps as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_lr_decays_once_per_epoch() {
        let r = Recipe::default();
        assert_eq!(r.lr_factor(1), 1.0);
        assert!((r.lr_factor(3) - 0.81).abs() < 1e-12);
        assert!((r.image_lr * r.lr_factor(20) - 1e-3 * 0.9f64.powi(19)).abs() < 1e-15);
    }

    #[test]
    fn warmup_is_linear_then_flat() {
        let r = Recipe {
            warmup_steps: 4,
            ..Recipe::default()
        };
        let f: Vec<f64> = (0..6).map(|s| r.warmup_factor(s)).collect();
        assert_eq!(f, vec![0.25, 0.5, 0.75, 1.0, 1.0, 1.0]);
        assert_eq!(Recipe::default().warmup_factor(0), 1.0);
    }
}
