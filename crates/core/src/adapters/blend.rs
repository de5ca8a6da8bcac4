//! Norm matching and the per-channel convex blend that writes an adapter's output back into
//! the residual stream (official `AddWeight` with `change_x=True`):
//! `a ← a·‖t‖/‖a‖` per token, then `(1 − w)⊙t + w⊙a` with a learnable `w ∈ R^D`.

use burn::tensor::{backend::Backend, Tensor};

use crate::precision::norm_last;

/// Rescales `adapted` per token to the norm of `tokens` (no epsilon, as the official code).
pub fn norm_match<B: Backend>(tokens: &Tensor<B, 3>, adapted: Tensor<B, 3>) -> Tensor<B, 3> {
    adapted.clone() * norm_last(tokens.clone()) / norm_last(adapted)
}

/// `(1 − w)⊙t + w⊙a`, `w` of shape `[D]`.
pub fn blend<B: Backend>(
    tokens: Tensor<B, 3>,
    adapted: Tensor<B, 3>,
    weight: Tensor<B, 1>,
) -> Tensor<B, 3> {
    let w = weight.unsqueeze::<3>();
    tokens * (w.clone().neg() + 1.0) + adapted * w
}
