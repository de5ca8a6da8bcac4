//! The CLIP text tower (token + positional embedding, causal residual blocks; `ln_final` and
//! `text_projection` only for the plain CLIP text embedding).

use burn::module::{Module, Param};
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor};

use super::block::ResidualAttentionBlock;
use crate::config::ClipConfig;
use crate::nn::{normal, LayerNorm};
use crate::precision::norm;

#[derive(Module, Debug)]
pub struct TextTower<B: Backend> {
    /// `[vocab, D]`.
    pub token_embedding: Param<Tensor<B, 2>>,
    /// `[context, D]`.
    pub positional_embedding: Param<Tensor<B, 2>>,
    pub blocks: Vec<ResidualAttentionBlock<B>>,
    pub ln_final: LayerNorm<B>,
    /// `[D, embed_dim]`.
    pub text_projection: Param<Tensor<B, 2>>,
}

impl<B: Backend> TextTower<B> {
    /// The text tower with PyTorch's initialisers, drawn lazily (on first use; build through
    /// `AcdClip::new` or `nn::materialize` before cloning a random one).
    pub fn new(cfg: &ClipConfig, device: &B::Device) -> Self {
        let t = &cfg.text;
        Self {
            token_embedding: normal([t.vocab_size, t.width], 0.02, device),
            positional_embedding: normal([t.context_length, t.width], 0.01, device),
            blocks: (0..t.layers)
                .map(|_| {
                    ResidualAttentionBlock::new(
                        t.width,
                        t.heads,
                        t.mlp_hidden,
                        cfg.activation,
                        device,
                    )
                })
                .collect(),
            ln_final: crate::nn::layer_norm(t.width, device),
            text_projection: normal(
                [t.width, cfg.embed_dim],
                (t.width as f64).powf(-0.5),
                device,
            ),
        }
    }

    /// `token_embedding[tokens] + positional_embedding`: `[P, T, D]` for `tokens` `[P, T]`
    /// (T may be shorter than the context: the causal mask makes later positions irrelevant).
    pub fn embed(&self, tokens: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        let [_, t] = tokens.dims();
        let x = burn::tensor::module::embedding(self.token_embedding.val(), tokens);
        x + self.positional_embedding.val().narrow(0, 0, t).unsqueeze()
    }

    /// Plain CLIP `encode_text`: `ln_final(x)[EOT] @ text_projection`; `eot` holds each row's EOT index.
    pub fn encode_text(&self, tokens: Tensor<B, 2, Int>, eot: &[usize]) -> Tensor<B, 2> {
        let mut x = self.embed(tokens);
        for block in &self.blocks {
            x = block.forward(x, true);
        }
        let pooled = gather_rows(x, eot);
        norm(&self.ln_final, pooled).matmul(self.text_projection.val())
    }
}

/// `x[p, eot[p], :]` for each row p: `[P, T, D]` → `[P, D]`.
pub fn gather_rows<B: Backend>(x: Tensor<B, 3>, eot: &[usize]) -> Tensor<B, 2> {
    let [p, t, d] = x.dims();
    let device = x.device();
    let flat: Vec<i64> = eot
        .iter()
        .enumerate()
        .map(|(i, &e)| (i * t + e) as i64)
        .collect();
    let idx = Tensor::<B, 1, Int>::from_data(burn::tensor::TensorData::new(flat, [p]), &device);
    x.reshape([p * t, d]).select(0, idx)
}
