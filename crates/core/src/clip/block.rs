//! The pre-LN residual attention block shared by both CLIP towers:
//! `x = x + MHA(ln_1(x)); x = x + MLP(ln_2(x))`, MLP = Linear(D, H) → GELU/QuickGELU → Linear(H, D).

use burn::module::Module;
use burn::tensor::activation::{gelu, sigmoid};
use burn::tensor::backend::Backend;
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::Tensor;

use crate::config::Activation;
use crate::nn::{LayerNorm, Linear};
use crate::precision::norm;

/// `nn.MultiheadAttention` with open_clip's packed `in_proj` (q, k, v stacked along the output).
#[derive(Module, Debug)]
pub struct MultiHeadAttention<B: Backend> {
    pub in_proj: Linear<B>,
    pub out_proj: Linear<B>,
    pub heads: usize,
}

impl<B: Backend> MultiHeadAttention<B> {
    pub fn new(width: usize, heads: usize, device: &B::Device) -> Self {
        Self {
            in_proj: crate::nn::linear(width, 3 * width, true, device),
            out_proj: crate::nn::linear(width, width, true, device),
            heads,
        }
    }

    /// `x`: `[B, T, D]`. `causal`: each position attends only to itself and earlier ones (text tower).
    pub fn forward(&self, x: Tensor<B, 3>, causal: bool) -> Tensor<B, 3> {
        let [b, t, d] = x.dims();
        let hd = d / self.heads;
        let qkv = self.in_proj.forward(x);
        let split = |i: usize| {
            qkv.clone()
                .narrow(2, i * d, d)
                .reshape([b, t, self.heads, hd])
                .swap_dims(1, 2)
        };
        let (q, k, v) = (split(0), split(1), split(2));
        let options = AttentionModuleOptions {
            is_causal: causal,
            ..Default::default()
        };
        let out = attention_in_chunks(q, k, v, options, ATTENTION_SCORES_MAX_BYTES); // [B, H, T, hd], scale 1/√hd
        self.out_proj
            .forward(out.swap_dims(1, 2).reshape([b, t, d]))
    }
}

/// The most bytes one attention call's scores (`[B, H, Tq, Tk]` in f32) may take. WebGPU
/// guarantees storage-buffer bindings of 128 MiB and no more, and Burn's wgpu attention may
/// materialise the scores in one buffer: ViT-L/14-336 at 518 px (16 heads × 1370² tokens, 115 MiB)
/// fits in one call at batch 1; larger images or batches run in several.
pub const ATTENTION_SCORES_MAX_BYTES: usize = 128 << 20;

/// `attention(q, k, v)` on `[B, H, T, hd]`, in calls whose scores take at most `max_bytes`: groups
/// of samples, or of one sample's heads when a sample alone is over (each head attends on its own,
/// so the result is the same). One call, as before, whenever the whole fits.
fn attention_in_chunks<B: Backend>(
    q: Tensor<B, 4>,
    k: Tensor<B, 4>,
    v: Tensor<B, 4>,
    options: AttentionModuleOptions,
    max_bytes: usize,
) -> Tensor<B, 4> {
    let [b, h, tq, _] = q.dims();
    let per_head = (tq * k.dims()[2] * size_of::<f32>()).max(1);
    if b * h * per_head <= max_bytes {
        return attention(q, k, v, None, None, options);
    }
    let heads_per_call = (max_bytes / per_head).max(1);
    let call = |dim: usize, start: usize, len: usize| {
        let part = |t: &Tensor<B, 4>| t.clone().narrow(dim, start, len);
        attention(part(&q), part(&k), part(&v), None, None, options)
    };
    if heads_per_call >= h {
        let samples = heads_per_call / h;
        let parts = (0..b).step_by(samples);
        return Tensor::cat(parts.map(|s| call(0, s, samples.min(b - s))).collect(), 0);
    }
    let per_sample = (0..b).map(|s| {
        let sample = |t: &Tensor<B, 4>| t.clone().narrow(0, s, 1);
        let (qs, ks, vs) = (sample(&q), sample(&k), sample(&v));
        let heads = (0..h).step_by(heads_per_call).map(|h0| {
            let part = |t: &Tensor<B, 4>| t.clone().narrow(1, h0, heads_per_call.min(h - h0));
            attention(part(&qs), part(&ks), part(&vs), None, None, options)
        });
        Tensor::cat(heads.collect(), 1)
    });
    Tensor::cat(per_sample.collect(), 0)
}

#[derive(Module, Debug)]
pub struct Mlp<B: Backend> {
    pub c_fc: Linear<B>,
    pub c_proj: Linear<B>,
}

#[derive(Module, Debug)]
pub struct ResidualAttentionBlock<B: Backend> {
    pub ln_1: LayerNorm<B>,
    pub attn: MultiHeadAttention<B>,
    pub ln_2: LayerNorm<B>,
    pub mlp: Mlp<B>,
    pub quick_gelu: bool,
}

/// The activation chosen by config: erf GELU, or OpenAI's QuickGELU `x·σ(1.702x)`.
pub fn activate<B: Backend, const D: usize>(x: Tensor<B, D>, quick_gelu: bool) -> Tensor<B, D> {
    if quick_gelu {
        x.clone() * sigmoid(x * 1.702)
    } else {
        gelu(x)
    }
}

impl<B: Backend> ResidualAttentionBlock<B> {
    pub fn new(
        width: usize,
        heads: usize,
        mlp_hidden: usize,
        activation: Activation,
        device: &B::Device,
    ) -> Self {
        Self {
            ln_1: crate::nn::layer_norm(width, device),
            attn: MultiHeadAttention::new(width, heads, device),
            ln_2: crate::nn::layer_norm(width, device),
            mlp: Mlp {
                c_fc: crate::nn::linear(width, mlp_hidden, true, device),
                c_proj: crate::nn::linear(mlp_hidden, width, true, device),
            },
            quick_gelu: activation == Activation::QuickGelu,
        }
    }

    pub fn forward(&self, x: Tensor<B, 3>, causal: bool) -> Tensor<B, 3> {
        let x = x.clone() + self.attn.forward(norm(&self.ln_1, x), causal);
        let h = activate(
            self.mlp.c_fc.forward(norm(&self.ln_2, x.clone())),
            self.quick_gelu,
        );
        x + self.mlp.c_proj.forward(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Distribution, Tolerance};

    type B = burn::backend::NdArray<f32>;

    /// Split by samples, by heads, or not at all, the attention of every head is the same.
    #[test]
    fn attention_in_chunks_equals_one_call() {
        let device = Default::default();
        let random = |shape: [usize; 4]| {
            Tensor::<B, 4>::random(shape, Distribution::Normal(0.0, 1.0), &device)
        };
        let (q, k, v) = (
            random([3, 5, 7, 4]),
            random([3, 5, 7, 4]),
            random([3, 5, 7, 4]),
        );
        let one_head = 7 * 7 * size_of::<f32>();
        for causal in [false, true] {
            let options = AttentionModuleOptions {
                is_causal: causal,
                ..Default::default()
            };
            let whole = attention(q.clone(), k.clone(), v.clone(), None, None, options).into_data();
            // two samples a call; two heads a call; one head a call
            for max_bytes in [10 * one_head, 2 * one_head, one_head] {
                let chunked =
                    attention_in_chunks(q.clone(), k.clone(), v.clone(), options, max_bytes);
                assert_eq!(chunked.dims(), [3, 5, 7, 4]);
                chunked
                    .into_data()
                    .assert_approx_eq::<f32>(&whole, Tolerance::absolute(1e-6));
            }
        }
    }
}
