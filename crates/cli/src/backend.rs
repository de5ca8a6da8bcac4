//! Backend choice happens here, at the edge: the core is generic over `B: Backend`.

use clap::ValueEnum;

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum BackendKind {
    /// CPU (burn-ndarray).
    Ndarray,
    /// CPU (burn-flex, patched in vendor/burn-flex: gemm-crate matmul, parallel attention, SIMD).
    Flex,
    /// GPU through wgpu (Vulkan, Metal, DX12); needs the `wgpu` feature.
    Wgpu,
    /// wgpu with f16 tensors: half the GPU memory; needs the GPU's shader-f16 support
    /// (docs/parity.md gives its distance to f32).
    #[value(name = "wgpu-f16")]
    WgpuF16,
    /// NVIDIA GPU through CUDA; needs the `cuda` feature.
    Cuda,
}

pub type Cpu = burn::backend::NdArray<f32>;

/// Runs `$body` with `B` bound to the chosen backend type and `device` to its device.
#[macro_export]
macro_rules! with_backend {
    ($kind:expr, |$b:ident, $device:ident| $body:expr) => {{
        match $kind {
            $crate::backend::BackendKind::Ndarray => {
                type $b = $crate::backend::Cpu;
                let $device = burn::backend::ndarray::NdArrayDevice::Cpu;
                $body
            }
            $crate::backend::BackendKind::Flex => {
                type $b = burn::backend::Flex;
                let $device = burn::backend::flex::FlexDevice;
                $body
            }
            #[cfg(feature = "wgpu")]
            $crate::backend::BackendKind::Wgpu => {
                type $b = burn::backend::Wgpu;
                let $device = burn::backend::wgpu::WgpuDevice::default();
                $body
            }
            #[cfg(feature = "wgpu")]
            $crate::backend::BackendKind::WgpuF16 => {
                type $b = burn::backend::Wgpu;
                let $device = burn::backend::wgpu::WgpuDevice::default();
                acd_core::precision::use_f16::<$b>(&$device)?;
                $body
            }
            #[cfg(not(feature = "wgpu"))]
            $crate::backend::BackendKind::Wgpu | $crate::backend::BackendKind::WgpuF16 => {
                anyhow::bail!("this `acd` was built without the wgpu backend: rebuild with `cargo build --release -p acd-cli --features wgpu`")
            }
            #[cfg(feature = "cuda")]
            $crate::backend::BackendKind::Cuda => {
                type $b = burn::backend::Cuda;
                let $device = burn::backend::cuda::CudaDevice::default();
                $body
            }
            #[cfg(not(feature = "cuda"))]
            $crate::backend::BackendKind::Cuda => {
                anyhow::bail!("this `acd` was built without the CUDA backend: rebuild with `cargo build --release -p acd-cli --features cuda`")
            }
        }
    }};
}
