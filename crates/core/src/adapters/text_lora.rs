//! Text LoRA (official `TextLoraAdapter`): `(E·A·B)·alpha/√r` on all token positions.

use burn::module::{Module, Param};
use burn::tensor::module::linear;
use burn::tensor::{backend::Backend, Tensor};

use crate::nn::{kaiming_uniform, normal};

#[derive(Module, Debug)]
pub struct TextLora<B: Backend> {
    /// `[D, r]`, used as `x @ A`.
    pub lora_a: Param<Tensor<B, 2>>,
    /// `[r, D]`.
    pub lora_b: Param<Tensor<B, 2>>,
    pub scale: f32,
}

impl<B: Backend> TextLora<B> {
    pub fn new(width: usize, rank: usize, scale: f32, device: &B::Device) -> Self {
        Self {
            lora_a: kaiming_uniform([width, rank], rank, device),
            lora_b: normal([rank, width], 0.02, device),
            scale,
        }
    }
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let down = linear(x, self.lora_a.val(), None);
        linear(down, self.lora_b.val(), None) * self.scale
    }
}
