//! The CLIP vision tower (open_clip `VisionTransformer`): patch stem, class token, positional
//! embedding, `ln_pre`, residual blocks; `ln_post` + `proj` only for the plain CLIP image embedding.

use burn::module::{Module, Param};
use burn::tensor::backend::Backend;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::Tensor;

use super::block::ResidualAttentionBlock;
use crate::config::ClipConfig;
use crate::nn::{normal, LayerNorm};
use crate::precision::norm;

#[derive(Module, Debug)]
pub struct VisionTower<B: Backend> {
    /// Stem `Conv2d(3, D, patch, stride=patch, bias=False)`: `[D, 3, p, p]`.
    pub conv1: Param<Tensor<B, 4>>,
    pub class_embedding: Param<Tensor<B, 1>>,
    /// `[1 + grid², D]` at this model's input size.
    pub positional_embedding: Param<Tensor<B, 2>>,
    pub ln_pre: LayerNorm<B>,
    pub blocks: Vec<ResidualAttentionBlock<B>>,
    pub ln_post: LayerNorm<B>,
    /// `[D, embed_dim]`.
    pub proj: Param<Tensor<B, 2>>,
    pub patch_size: usize,
}

impl<B: Backend> VisionTower<B> {
    /// The vision tower with PyTorch's initialisers, drawn lazily (on first use; build through
    /// `AcdClip::new` or `nn::materialize` before cloning a random one).
    pub fn new(cfg: &ClipConfig, device: &B::Device) -> Self {
        let v = &cfg.vision;
        let std = (v.width as f64).powf(-0.5);
        Self {
            conv1: crate::nn::kaiming_uniform(
                [v.width, 3, v.patch_size, v.patch_size],
                3 * v.patch_size * v.patch_size,
                device,
            ),
            class_embedding: normal([v.width], std, device),
            positional_embedding: normal([v.num_patches() + 1, v.width], std, device),
            ln_pre: crate::nn::layer_norm(v.width, device),
            blocks: (0..v.layers)
                .map(|_| {
                    ResidualAttentionBlock::new(
                        v.width,
                        v.heads,
                        v.mlp_hidden,
                        cfg.activation,
                        device,
                    )
                })
                .collect(),
            ln_post: crate::nn::layer_norm(v.width, device),
            proj: normal([v.width, cfg.embed_dim], std, device),
            patch_size: v.patch_size,
        }
    }

    /// Patch tokens with the class token prepended, plus the positional embedding: `[B, 1 + g², D]`
    /// (the input of `ln_pre`).
    pub fn embed(&self, images: Tensor<B, 4>) -> Tensor<B, 3> {
        let x = self.patch_embedding(images); // token = row·g + col
        let [b, _, d] = x.dims();
        let cls = self
            .class_embedding
            .val()
            .reshape([1, 1, d])
            .expand([b, 1, d]);
        Tensor::cat(vec![cls, x], 1) + self.positional_embedding.val().unsqueeze()
    }

    /// The patch embedding alone, `[B, L, D]` (the `conv1` projection of each pixel patch, without
    /// class token or positional embedding): the model's lowest-level patch features.
    pub fn patch_embedding(&self, images: Tensor<B, 4>) -> Tensor<B, 3> {
        let p = self.patch_size;
        let x = conv2d(
            images,
            self.conv1.val(),
            None,
            ConvOptions::new([p, p], [0, 0], [1, 1], 1),
        );
        let [b, d, gh, gw] = x.dims();
        x.reshape([b, d, gh * gw]).swap_dims(1, 2)
    }

    /// Plain CLIP `encode_image`: `ln_post(CLS after all blocks) @ proj`.
    pub fn encode_image(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        let mut x = norm(&self.ln_pre, self.embed(images));
        for block in &self.blocks {
            x = block.forward(x, false);
        }
        let [b, _, d] = x.dims();
        let cls = x.narrow(1, 0, 1).reshape([b, d]);
        norm(&self.ln_post, cls).matmul(self.proj.val())
    }
}
