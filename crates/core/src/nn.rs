//! Building blocks: Burn's own `Linear` and `LayerNorm` (`burn::nn`), made with PyTorch's
//! initialisation and epsilon, and the small functions the model shares.

use burn::module::Param;
use burn::nn::LayerNormConfig;
use burn::tensor::{backend::Backend, Distribution, Tensor};

/// LayerNorm over the last dimension through the backend's fused kernel (`gamma` = PyTorch's
/// `weight`, `beta` = its `bias`).
pub use burn::nn::LayerNorm;
/// `y = x·W + b` with W stored `[in, out]` (PyTorch stores `[out, in]`; the loader transposes).
pub use burn::nn::Linear;

/// PyTorch `nn.Linear(d_in, d_out)`: weight and bias drawn from U(±1/√d_in), weight first.
pub fn linear<B: Backend>(d_in: usize, d_out: usize, bias: bool, device: &B::Device) -> Linear<B> {
    let bound = 1.0 / (d_in as f64).sqrt();
    let dist = Distribution::Uniform(-bound, bound);
    Linear {
        weight: Param::from_tensor(Tensor::random([d_in, d_out], dist, device)),
        bias: bias.then(|| Param::from_tensor(Tensor::random([d_out], dist, device))),
    }
}

/// `nn.LayerNorm`'s epsilon.
pub const LAYER_NORM_EPS: f64 = 1e-5;

/// PyTorch `nn.LayerNorm(d)`: weight 1, bias 0, eps 1e-5.
pub fn layer_norm<B: Backend>(d: usize, device: &B::Device) -> LayerNorm<B> {
    LayerNormConfig::new(d)
        .with_epsilon(LAYER_NORM_EPS)
        .init(device)
}

/// A LayerNorm with a checkpoint's weight and bias.
pub fn layer_norm_with<B: Backend>(
    weight: Param<Tensor<B, 1>>,
    bias: Param<Tensor<B, 1>>,
    device: &B::Device,
) -> LayerNorm<B> {
    let mut ln = layer_norm(weight.val().dims()[0], device);
    ln.gamma = weight;
    ln.beta = Some(bias);
    ln
}

/// Euclidean norm over the last dimension, kept as a size-1 dimension.
pub fn norm_last<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    x.square().sum_dim(D - 1).sqrt()
}

/// `x / ‖x‖` over the last dimension (`F.normalize` with its 1e-12 floor).
pub fn l2_normalize<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    let n = norm_last(x.clone()).clamp_min(1e-12);
    x / n
}

/// PyTorch `kaiming_uniform_` with a = 0 on a tensor whose fan-in is `fan_in`: U(±√(6/fan_in)).
pub fn kaiming_uniform<B: Backend, const D: usize>(
    shape: [usize; D],
    fan_in: usize,
    device: &B::Device,
) -> Tensor<B, D> {
    let bound = (6.0 / fan_in as f64).sqrt();
    Tensor::random(shape, Distribution::Uniform(-bound, bound), device)
}
