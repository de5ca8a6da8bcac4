//! The Conv-LoRA adapter (docs/model.md §2.3): per kernel size k, a LoRA down-projection, two k×k
//! convolutions on the patch grid, a LoRA up-projection; the branches are concatenated and mixed
//! by a 1×1 fusion convolution. `ConvLoraAdapter` is the trainable form with the official
//! parameters; `FoldedConvLora` is the exact inference form with the fusion conv and both scales
//! folded into the up-projections (`F_k = s_l · B_k · W_fuse[:, k]ᵀ`).

use burn::module::{Initializer, Module, Param};
use burn::tensor::backend::Backend;
use burn::tensor::module::{conv2d, linear};
use burn::tensor::ops::ConvOptions;
use burn::tensor::Tensor;

use crate::nn::{constant, kaiming_uniform, normal};

use crate::trace::Trace;

/// `[B, L, C]` tokens → `[B, C, g, g]` grid (token index = row·g + col).
pub fn tokens_to_grid<B: Backend>(x: Tensor<B, 3>, grid: usize) -> Tensor<B, 4> {
    let [b, _, c] = x.dims();
    x.swap_dims(1, 2).reshape([b, c, grid, grid])
}

/// `[B, C, g, g]` → `[B, g², C]`.
pub fn grid_to_tokens<B: Backend>(x: Tensor<B, 4>) -> Tensor<B, 3> {
    let [b, c, h, w] = x.dims();
    x.reshape([b, c, h * w]).swap_dims(1, 2)
}

fn same_conv<B: Backend>(x: Tensor<B, 4>, weight: Tensor<B, 4>) -> Tensor<B, 4> {
    let k = weight.dims()[2];
    conv2d(
        x,
        weight,
        None,
        ConvOptions::new([1, 1], [k / 2, k / 2], [1, 1], 1),
    )
}

/// One branch (official `ConvLoraBlock`).
#[derive(Module, Debug)]
pub struct ConvLoraBlock<B: Backend> {
    /// `[D, r]`, used as `t @ A`.
    pub lora_a: Param<Tensor<B, 2>>,
    /// `[r, D]`.
    pub lora_b: Param<Tensor<B, 2>>,
    /// `Conv2d(r → rc, k×k, pad k//2, no bias)`: `[rc, r, k, k]`.
    pub conv_lora_a: Param<Tensor<B, 4>>,
    /// `Conv2d(rc → r, k×k)`: `[r, rc, k, k]`.
    pub conv_lora_b: Param<Tensor<B, 4>>,
    pub conv_scale: f32,
    pub lora_scale: f32,
}

impl<B: Backend> ConvLoraBlock<B> {
    pub fn new(
        width: usize,
        rank: usize,
        conv_rank: usize,
        kernel: usize,
        scales: (f32, f32),
        device: &B::Device,
    ) -> Self {
        let k2 = kernel * kernel;
        Self {
            lora_a: kaiming_uniform([width, rank], rank, device),
            lora_b: normal([rank, width], 0.02, device),
            conv_lora_a: kaiming_uniform([conv_rank, rank, kernel, kernel], rank * k2, device),
            conv_lora_b: kaiming_uniform([rank, conv_rank, kernel, kernel], conv_rank * k2, device),
            lora_scale: scales.0,
            conv_scale: scales.1,
        }
    }

    /// `[B, L, D]` → `[B, L, D]`, recording the fixture's intermediates under `prefix`.
    pub fn forward(
        &self,
        tokens: Tensor<B, 3>,
        grid: usize,
        trace: &mut Trace,
        prefix: &str,
    ) -> Tensor<B, 3> {
        let down = tokens_to_grid(linear(tokens, self.lora_a.val(), None), grid);
        trace.record(|| format!("{prefix}.down"), &down);
        let a = same_conv(down, self.conv_lora_a.val());
        trace.record(|| format!("{prefix}.convA_out"), &a);
        let b = same_conv(a, self.conv_lora_b.val());
        trace.record(|| format!("{prefix}.convB_out"), &b);
        linear(grid_to_tokens(b * self.conv_scale), self.lora_b.val(), None) * self.lora_scale
    }
}

/// The trainable adapter (official `ConvLoraAdapter`).
#[derive(Module, Debug)]
pub struct ConvLoraAdapter<B: Backend> {
    pub conv_lora_blocks: Vec<ConvLoraBlock<B>>,
    /// The 1×1 fusion conv as a matrix `[n_kernels·D, D]` (PyTorch `[D, n_kernels·D, 1, 1]`, transposed).
    pub fusion: Param<Tensor<B, 2>>,
}

impl<B: Backend> ConvLoraAdapter<B> {
    pub fn new(width: usize, cfg: &crate::config::AdapterConfig, device: &B::Device) -> Self {
        let scales = (cfg.lora_scale() as f32, cfg.conv_lora_scale() as f32);
        let n = cfg.kernels.len();
        // PyTorch's `nn.Conv2d` default: U(±1/√fan_in).
        let bound = 1.0 / ((n * width) as f64).sqrt();
        let fusion = Initializer::Uniform {
            min: -bound,
            max: bound,
        };
        Self {
            conv_lora_blocks: cfg
                .kernels
                .iter()
                .map(|&k| {
                    ConvLoraBlock::new(width, cfg.lora_rank, cfg.conv_lora_rank, k, scales, device)
                })
                .collect(),
            fusion: fusion.init([n * width, width], device),
        }
    }

    pub fn forward(
        &self,
        tokens: Tensor<B, 3>,
        grid: usize,
        trace: &mut Trace,
        prefix: &str,
    ) -> Tensor<B, 3> {
        let branches: Vec<_> = self
            .conv_lora_blocks
            .iter()
            .enumerate()
            .map(|(k, block)| {
                block.forward(
                    tokens.clone(),
                    grid,
                    trace,
                    &format!("{prefix}.convlora.k{k}"),
                )
            })
            .collect();
        linear(Tensor::cat(branches, 2), self.fusion.val(), None)
    }

    /// The exact inference form (docs/model.md §2.3).
    pub fn fold(&self) -> FoldedConvLora<B> {
        let width = self.fusion.dims()[1];
        let mut downs = Vec::new();
        let mut ups = Vec::new();
        let mut convs = Vec::new();
        for (k, block) in self.conv_lora_blocks.iter().enumerate() {
            downs.push(block.lora_a.val());
            let fuse_k = self.fusion.val().narrow(0, k * width, width); // [D, D] = W_fuse[:, slice_k]ᵀ
            ups.push(block.lora_b.val().matmul(fuse_k) * block.lora_scale);
            convs.push(FoldedConvPair {
                conv_a: Param::from_tensor(block.conv_lora_a.val()),
                conv_b: Param::from_tensor(block.conv_lora_b.val() * block.conv_scale),
            });
        }
        FoldedConvLora {
            down: Param::from_tensor(Tensor::cat(downs, 1)),
            convs,
            up: Param::from_tensor(Tensor::cat(ups, 0)),
        }
    }
}

#[derive(Module, Debug)]
pub struct FoldedConvPair<B: Backend> {
    pub conv_a: Param<Tensor<B, 4>>,
    /// Already multiplied by the conv-LoRA scale.
    pub conv_b: Param<Tensor<B, 4>>,
}

/// Inference form: one `[D, n·r]` down-projection, the k×k conv pairs, one `[n·r, D]` up-projection.
#[derive(Module, Debug)]
pub struct FoldedConvLora<B: Backend> {
    pub down: Param<Tensor<B, 2>>,
    pub convs: Vec<FoldedConvPair<B>>,
    pub up: Param<Tensor<B, 2>>,
}

impl<B: Backend> FoldedConvLora<B> {
    /// The shape of a folded adapter, zero-filled: what a bundle's folded weights are loaded into.
    pub fn new(width: usize, cfg: &crate::config::AdapterConfig, device: &B::Device) -> Self {
        let (r, rc) = (cfg.lora_rank, cfg.conv_lora_rank);
        let n = cfg.kernels.len();
        Self {
            down: constant([width, n * r], 0.0, device),
            convs: cfg
                .kernels
                .iter()
                .map(|&k| FoldedConvPair {
                    conv_a: constant([rc, r, k, k], 0.0, device),
                    conv_b: constant([r, rc, k, k], 0.0, device),
                })
                .collect(),
            up: constant([n * r, width], 0.0, device),
        }
    }

    pub fn forward(&self, tokens: Tensor<B, 3>, grid: usize) -> Tensor<B, 3> {
        let down = linear(tokens, self.down.val(), None);
        let rank = down.dims()[2] / self.convs.len();
        let branches: Vec<_> = self
            .convs
            .iter()
            .enumerate()
            .map(|(k, pair)| {
                let u = tokens_to_grid(down.clone().narrow(2, k * rank, rank), grid);
                grid_to_tokens(same_conv(
                    same_conv(u, pair.conv_a.val()),
                    pair.conv_b.val(),
                ))
            })
            .collect();
        linear(Tensor::cat(branches, 2), self.up.val(), None)
    }
}
