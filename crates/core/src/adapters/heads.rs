//! Projection heads per group (official `MLPAdapter` + fresh LayerNorm):
//! `seg = l2(LN(MLP(G)))` per token, `det = mean_tokens(l2(LN(MLP'(G))))` (not re-normalised).

use burn::module::Module;
use burn::tensor::activation::leaky_relu;
use burn::tensor::{backend::Backend, Tensor};

use crate::nn::{LayerNorm, Linear};
use crate::precision::{l2_normalize, norm};

/// `Linear(D, hidden) → LeakyReLU(0.01) → Linear(hidden, D_text)`; official keys `fc.0`, `fc.2`.
#[derive(Module, Debug)]
pub struct ProjectionMlp<B: Backend> {
    pub fc0: Linear<B>,
    pub fc2: Linear<B>,
}

impl<B: Backend> ProjectionMlp<B> {
    pub fn new(d_in: usize, hidden: usize, d_out: usize, device: &B::Device) -> Self {
        Self {
            fc0: crate::nn::linear(d_in, hidden, true, device),
            fc2: crate::nn::linear(hidden, d_out, true, device),
        }
    }
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        self.fc2.forward(leaky_relu(self.fc0.forward(x), 0.01))
    }
}

/// One head: MLP, LayerNorm, unit-normalised tokens `[B, L, D_text]`.
pub fn project_tokens<B: Backend>(
    mlp: &ProjectionMlp<B>,
    ln: &LayerNorm<B>,
    tokens: Tensor<B, 3>,
) -> Tensor<B, 3> {
    l2_normalize(norm(ln, mlp.forward(tokens)))
}
