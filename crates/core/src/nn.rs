//! Small building blocks with checkpoint-shaped parameters. Own modules (rather than `burn::nn`) keep
//! every parameter public and named after the checkpoint, so one loader fills them with checked shapes.

use burn::module::{Module, Param};
use burn::tensor::{backend::Backend, Distribution, Tensor, TensorPrimitive};

/// `y = x·W + b`, W stored `[in, out]` (PyTorch stores `[out, in]`; the loader transposes).
#[derive(Module, Debug)]
pub struct Linear<B: Backend> {
    pub weight: Param<Tensor<B, 2>>,
    pub bias: Option<Param<Tensor<B, 1>>>,
}

impl<B: Backend> Linear<B> {
    /// PyTorch's default init: U(±1/√fan_in) for weight and bias.
    pub fn new(d_in: usize, d_out: usize, bias: bool, device: &B::Device) -> Self {
        let bound = 1.0 / (d_in as f64).sqrt();
        let dist = Distribution::Uniform(-bound, bound);
        Self {
            weight: Param::from_tensor(Tensor::random([d_in, d_out], dist, device)),
            bias: bias.then(|| Param::from_tensor(Tensor::random([d_out], dist, device))),
        }
    }

    pub fn forward<const D: usize>(&self, x: Tensor<B, D>) -> Tensor<B, D> {
        burn::tensor::module::linear(x, self.weight.val(), self.bias.as_ref().map(|b| b.val()))
    }
}

/// LayerNorm over the last dimension (eps 1e-5 as `nn.LayerNorm`).
#[derive(Module, Debug)]
pub struct LayerNorm<B: Backend> {
    pub weight: Param<Tensor<B, 1>>,
    pub bias: Param<Tensor<B, 1>>,
}

pub const LAYER_NORM_EPS: f64 = 1e-5;

impl<B: Backend> LayerNorm<B> {
    pub fn new(d: usize, device: &B::Device) -> Self {
        Self {
            weight: Param::from_tensor(Tensor::ones([d], device)),
            bias: Param::from_tensor(Tensor::zeros([d], device)),
        }
    }

    /// Through the backend's fused `layer_norm` (one pass per row on the CPU, in parallel, instead
    /// of six whole-tensor ops): `(x − mean) / √(var + eps) · weight + bias`, biased variance.
    pub fn forward<const D: usize>(&self, x: Tensor<B, D>) -> Tensor<B, D> {
        Tensor::from_primitive(TensorPrimitive::Float(B::layer_norm(
            x.into_primitive().tensor(),
            self.weight.val().into_primitive().tensor(),
            Some(self.bias.val().into_primitive().tensor()),
            LAYER_NORM_EPS,
        )))
    }
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
