//! The Dynamic Fusion Gateway (docs/model.md §4): per visual group a gate MLP on the pooled seg
//! tokens chooses, separately for the normal and the abnormal state, a softmax mix of the N text
//! levels; the map logits are `10 · seg · T̃`. The map post-processing and the image score are in
//! `anomaly_map`.

use burn::module::Module;
use burn::tensor::activation::{gelu, softmax};
use burn::tensor::{backend::Backend, Tensor};

use crate::nn::Linear;

/// Fixed similarity scale of the map logits.
pub const SEG_TEMPERATURE: f32 = 10.0;

/// `Linear(D_text, hidden) → GELU(erf) → Linear(hidden, 2N)`; official keys `vision_text_gate.i.{0,2}`.
#[derive(Module, Debug)]
pub struct Gate<B: Backend> {
    pub fc0: Linear<B>,
    pub fc2: Linear<B>,
}

impl<B: Backend> Gate<B> {
    pub fn new(d_text: usize, hidden: usize, n_groups: usize, device: &B::Device) -> Self {
        Self {
            fc0: crate::nn::linear(d_text, hidden, true, device),
            fc2: crate::nn::linear(hidden, 2 * n_groups, true, device),
        }
    }

    /// Gate logits `[B, 2N]` from the GAP of unit seg tokens `[B, L, D]`; also returns the gate input.
    pub fn logits(&self, seg: Tensor<B, 3>) -> (Tensor<B, 2>, Tensor<B, 2>) {
        let [b, _, d] = seg.dims();
        let pooled = seg.mean_dim(1).reshape([b, d]);
        (
            self.fc2.forward(gelu(self.fc0.forward(pooled.clone()))),
            pooled,
        )
    }
}

/// Softmax over the N text levels, separately per state: `[B, 2N]` (layout `z[j·2 + c]`) → `[B, N, 2]`.
pub fn gate_weights<B: Backend>(logits: Tensor<B, 2>) -> Tensor<B, 3> {
    let [b, two_n] = logits.dims();
    softmax(logits.reshape([b, two_n / 2, 2]), 1)
}

/// `T̃[b,:,c] = Σ_j W[b,j,c]·T_j[:,c]`: weights `[B, N, 2]`, text `[N, D, 2]` → `[B, D, 2]` (not re-normalised).
pub fn gated_text<B: Backend>(weights: Tensor<B, 3>, text: Tensor<B, 3>) -> Tensor<B, 3> {
    let [b, n, _] = weights.dims();
    let [_, d, _] = text.dims();
    let w = weights.reshape([b, n, 1, 2]);
    let t = text.unsqueeze_dim::<4>(0);
    (w * t).sum_dim(1).reshape([b, d, 2])
}

/// Map logits of one group: `10 · seg @ T̃`, `[B, L, D]` × `[B, D, 2]` → `[B, L, 2]`.
pub fn map_logits<B: Backend>(seg: Tensor<B, 3>, text: Tensor<B, 3>) -> Tensor<B, 3> {
    seg.matmul(text) * SEG_TEMPERATURE
}

/// Image logits of one group, ungated text, no scale: `det [B, D]` × `T_i [D, 2]` → `[B, 2]`.
pub fn det_logits<B: Backend>(det: Tensor<B, 2>, text_level: Tensor<B, 2>) -> Tensor<B, 2> {
    det.matmul(text_level)
}

/// `[B, L, 2]` logits → `[B, 2, g, g]` (row-major tokens).
pub fn logits_to_maps<B: Backend>(logits: Tensor<B, 3>, grid: usize) -> Tensor<B, 4> {
    let [b, _, c] = logits.dims();
    logits.swap_dims(1, 2).reshape([b, c, grid, grid])
}
