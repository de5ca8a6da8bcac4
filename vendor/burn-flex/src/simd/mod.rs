//! SIMD-optimized kernels for tensor operations.
//!
//! Provides portable SIMD implementations via `macerator` with automatic
//! dispatch to the best available instruction set:
//! - aarch64: NEON
//! - x86_64: AVX2, AVX512, SSE
//! - wasm32: SIMD128
//! - Other: Scalar fallback
//!
//! Enable with the `simd` feature flag (enabled by default).

// Portable SIMD kernels using macerator (reductions, scatter-add)
#[cfg(feature = "simd")]
pub mod kernels;

/// acd-clip patch: defines `pub fn $name($arg: $ty) -> $ret`, which runs `$body` (an
/// `#[inline(always)]` fn of plain loops) compiled for AVX-512F or AVX2 when the CPU has them
/// (chosen at run time), else as built (SIMD128 in wasm, NEON, SSE2). Shared by `exp` and `gelu`.
macro_rules! on_widest_vector_unit {
    ($(#[$doc:meta])* pub fn $name:ident($arg:ident: $ty:ty) -> $ret:ty = $body:path;) => {
        $(#[$doc])*
        pub fn $name($arg: $ty) -> $ret {
            #[cfg(all(target_arch = "x86_64", feature = "std"))]
            {
                #[target_feature(enable = "avx512f")]
                unsafe fn avx512($arg: $ty) -> $ret {
                    $body($arg)
                }
                #[target_feature(enable = "avx2")]
                unsafe fn avx2($arg: $ty) -> $ret {
                    $body($arg)
                }
                if std::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU has AVX-512F (checked above).
                    return unsafe { avx512($arg) };
                }
                if std::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU has AVX2 (checked above).
                    return unsafe { avx2($arg) };
                }
            }
            $body($arg)
        }
    };
}

// Vectorised exp for the softmax (acd-clip patch)
pub mod exp;

// Vectorisable erf for GELU (acd-clip patch)
pub mod gelu;

// SIMD-aligned memory allocation
#[cfg(feature = "simd")]
pub mod aligned;

// When simd feature enabled: use portable macerator for binary/comparison/bool ops
#[cfg(feature = "simd")]
mod portable;

#[cfg(feature = "simd")]
pub use portable::{
    CmpOp, abs_inplace_f32, add_inplace_f32, add_shared_row_inplace_f32, bool_and_inplace_u8,
    bool_and_u8, bool_not_inplace_u8, bool_not_u8, bool_or_inplace_u8, bool_or_u8,
    bool_xor_inplace_u8, bool_xor_u8, cmp_f32, cmp_scalar_f32, div_inplace_f32,
    div_shared_row_inplace_f32, mask_fill_f32, mask_fill_f64, mask_fill_i64, mask_fill_u8,
    mask_where_f32, mask_where_f64, mask_where_i64, mask_where_u8, mul_inplace_f32,
    mul_shared_row_inplace_f32, recip_inplace_f32, sub_inplace_f32, sub_shared_row_inplace_f32,
};

// When simd feature disabled: use scalar fallback (bool ops + CmpOp only)
#[cfg(not(feature = "simd"))]
mod scalar;

#[cfg(not(feature = "simd"))]
pub use scalar::{
    CmpOp, bool_and_inplace_u8, bool_and_u8, bool_not_inplace_u8, bool_not_u8, bool_or_inplace_u8,
    bool_or_u8, bool_xor_inplace_u8, bool_xor_u8,
};
