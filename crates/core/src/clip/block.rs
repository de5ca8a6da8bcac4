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
        let out = attention(q, k, v, None, None, options); // [B, H, T, hd], scale 1/√hd
        self.out_proj
            .forward(out.swap_dims(1, 2).reshape([b, t, d]))
    }
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
        let x = x.clone() + self.attn.forward(self.ln_1.forward(x), causal);
        let h = activate(
            self.mlp.c_fc.forward(self.ln_2.forward(x.clone())),
            self.quick_gelu,
        );
        x + self.mlp.c_proj.forward(h)
    }
}
