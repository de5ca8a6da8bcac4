//! Which head turns CLIP's tokens into a detection: ACD-CLIP's (adapters, N groups, the gate) or
//! the training-free one (plain CLIP's projection heads, `training_free`). One `Detector` runs
//! either; what differs between them in shapes is answered here.

use crate::config::AcdClipConfig;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Head {
    /// ACD-CLIP: Conv-LoRA adapters, text adapters and the Dynamic Fusion Gateway.
    #[default]
    AcdClip,
    /// CLIP alone, no adapters (docs/model.md §8.1).
    TrainingFree,
}

impl Head {
    /// From a bundle manifest's `training_free` flag.
    pub fn from_training_free(training_free: bool) -> Self {
        if training_free {
            Head::TrainingFree
        } else {
            Head::AcdClip
        }
    }

    pub fn is_training_free(self) -> bool {
        self == Head::TrainingFree
    }

    /// Groups and width `(n, d)` of a category's class embedding `[n, d, 2]`: one projected CLIP
    /// embedding, or one text-adapted embedding per group.
    pub fn class_embedding_shape(self, config: &AcdClipConfig) -> (usize, usize) {
        match self {
            Head::TrainingFree => (1, config.clip.embed_dim),
            Head::AcdClip => (config.adapter.n_groups, config.clip.text.width),
        }
    }

    /// The width of each group-level token map: the projected patch tokens, or each group's
    /// adapted tokens.
    pub fn group_token_dims(self, config: &AcdClipConfig) -> Vec<usize> {
        match self {
            Head::TrainingFree => vec![config.clip.embed_dim],
            Head::AcdClip => vec![config.clip.vision.width; config.adapter.n_groups],
        }
    }
}
