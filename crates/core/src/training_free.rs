//! Training-free mode: zero-shot detection with the plain CLIP weights, no adapters (a
//! WinCLIP-style baseline for users who have CLIP but no ACD-CLIP checkpoint). The same prompt
//! ensembles as ACD-CLIP (docs/model.md §3.2) are embedded with CLIP's own text encoder
//! (normalise each sentence, average, normalise); every patch token of the last block goes through
//! `ln_post` and `proj` and is compared with the two class vectors at CLIP's logit scale (100); the
//! map is the softmax's abnormal probability, blurred and upsampled exactly like ACD-CLIP's, and
//! the image score fuses the class token's probability with the map maximum by the domain's weight.
//!
//! Simplification against WinCLIP proper: one scale (patch tokens), no sliding windows and no
//! few-shot memory; it is a baseline, expect far weaker maps than a trained ACD-CLIP.

use burn::tensor::activation::{sigmoid, softmax};
use burn::tensor::{backend::Backend, Tensor};

use crate::anomaly_map::{fuse_score, MapOperators};
use crate::clip::text::TextTower;
use crate::clip::vision::VisionTower;
use crate::model::TokenBatch;
use crate::precision::{in_f32, l2_normalize, norm};

/// CLIP's logit scale (`exp(log(1/0.07))` initially, 100 after OpenAI's training).
pub const CLIP_LOGIT_SCALE: f64 = 100.0;

/// The class embedding `[E, 2]` (column 0 normal, 1 abnormal) from CLIP's text encoder.
pub fn class_embedding<B: Backend>(
    text: &TextTower<B>,
    normal: &TokenBatch,
    abnormal: &TokenBatch,
    device: &B::Device,
) -> Tensor<B, 2> {
    let column = |batch: &TokenBatch| {
        let f = text.encode_text(batch.to_tensor(device), &batch.eot);
        let [_, e] = f.dims();
        l2_normalize(l2_normalize(f).mean_dim(0)).reshape([e, 1])
    };
    Tensor::cat(vec![column(normal), column(abnormal)], 1)
}

/// What the training-free pass produces.
pub struct ZeroShotPrediction<B: Backend> {
    /// Abnormal probability `[B, S_map, S_map]`.
    pub map: Tensor<B, 3>,
    /// From the class token, `[B]`.
    pub p_cls: Tensor<B, 1>,
    pub score: Tensor<B, 1>,
    /// Abnormal − normal logits at grid size `[B, g, g]` (before blur).
    pub patch_logits: Tensor<B, 3>,
    /// Unit projected patch tokens `[B, L, E]` (what a normal-reference memory keeps).
    pub patch_tokens: Tensor<B, 3>,
}

/// Unit projected tokens `[B, T, E]` of the last block, class token first.
fn projected_tokens<B: Backend>(vision: &VisionTower<B>, images: Tensor<B, 4>) -> Tensor<B, 3> {
    let mut x = norm(&vision.ln_pre, vision.embed(images));
    for block in &vision.blocks {
        x = block.forward(x, false);
    }
    l2_normalize(norm(&vision.ln_post, x).matmul(vision.proj.val().unsqueeze()))
}

/// Unit projected patch tokens `[B, L, E]` (what a normal-reference memory keeps).
pub fn patch_tokens<B: Backend>(vision: &VisionTower<B>, images: Tensor<B, 4>) -> Tensor<B, 3> {
    let tokens = projected_tokens(vision, images);
    let [_, t, _] = tokens.dims();
    tokens.narrow(1, 1, t - 1)
}

/// `images` normalised `[B, 3, S, S]`; `text` `[E, 2]` from `class_embedding`.
pub fn predict<B: Backend>(
    vision: &VisionTower<B>,
    images: Tensor<B, 4>,
    text: Tensor<B, 2>,
    ops: &MapOperators,
    test_mode: bool,
    score_weight: f32,
) -> ZeroShotPrediction<B> {
    let tokens = projected_tokens(vision, images);
    let [b, t, e] = tokens.dims();
    let patch_tokens = tokens.clone().narrow(1, 1, t - 1);
    let logits = in_f32(tokens).matmul(in_f32(text).unsqueeze()) * CLIP_LOGIT_SCALE; // [B, T, 2]
    let diff = logits.clone().narrow(2, 1, 1) - logits.clone().narrow(2, 0, 1); // [B, T, 1]
    let g = ops.grid;
    debug_assert_eq!(t, 1 + g * g);
    debug_assert!(e > 0);
    let patch_logits = diff.clone().narrow(1, 1, t - 1).reshape([b, g, g]);
    let x = patch_logits.clone().reshape([b, 1, g, g]);
    let up = if test_mode {
        ops.blur_and_upsample(x)
    } else {
        ops.upsample(x)
    };
    let map = sigmoid(up).squeeze_dim::<3>(1);
    let cls = logits.narrow(1, 0, 1).reshape([b, 2]);
    let p_cls = softmax(cls, 1).narrow(1, 1, 1).reshape([b]);
    let (score, _) = fuse_score(p_cls.clone(), map.clone(), score_weight);
    ZeroShotPrediction {
        map,
        p_cls,
        score,
        patch_logits,
        patch_tokens,
    }
}
