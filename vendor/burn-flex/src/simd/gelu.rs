//! GELU with a vectorisable erf (acd-clip patch, see PATCHES.md).
//!
//! `erf(x) ≈ x·P(x²)/Q(x²)` for `x` clamped to `[−4, 4]`: the rational approximation Eigen and XLA
//! use for f32 (numerator odd of degree 13, denominator even of degree 8; within 6.5e-8 of the
//! exact erf). Evaluated in f64, so the f32 result is as close as libm's `erff` gives (f32
//! evaluation would lose about 7 ulp near |x| = 3.3); tests/tests/flex_kernels.rs checks it against
//! an f64 erf. It has no branches or table lookups, so one loop compiles to AVX-512, AVX2 or
//! SIMD128 code; libm's `erff` is scalar with branches and was 4 % of a ViT-B/16 forward. Plain
//! multiplies and adds (no FMA), so every instruction set gives the same bits.

/// Numerator coefficients of x¹³, x¹¹, …, x¹ (Horner order).
const ALPHA: [f64; 7] = [
    -2.726_142_258_013_06e-10,
    2.770_681_424_959_02e-8,
    -2.101_024_020_825_08e-6,
    -5.692_506_394_623_46e-5,
    -7.349_906_303_268_55e-4,
    -2.954_599_808_540_25e-3,
    -1.609_603_332_624_15e-2,
];
/// Denominator coefficients of x⁸, x⁶, …, x⁰.
const BETA: [f64; 5] = [
    -1.456_607_184_649_96e-5,
    -2.133_740_552_789_05e-4,
    -1.682_826_974_382_03e-3,
    -7.373_329_167_204_68e-3,
    -1.426_473_905_141_89e-2,
];

/// erf by the rational approximation (NaN in, NaN out).
#[inline(always)]
pub fn erf(x: f64) -> f64 {
    // Compare-and-select keeps a NaN (f64::clamp would too, but asserts on its bounds).
    let c = if x < -4.0 { -4.0 } else { x };
    let c = if c > 4.0 { 4.0 } else { c };
    let x2 = c * c;
    let mut p = ALPHA[0];
    for &a in &ALPHA[1..] {
        p = p * x2 + a;
    }
    let mut q = BETA[0];
    for &b in &BETA[1..] {
        q = q * x2 + b;
    }
    c * p / q
}

/// `0.5·x·(1 + erf(x/√2))`.
#[inline(always)]
pub fn gelu(x: f32) -> f32 {
    let x = f64::from(x);
    (0.5 * x * (1.0 + erf(x * core::f64::consts::FRAC_1_SQRT_2))) as f32
}

#[inline(always)]
fn gelu_loop(xs: &mut [f32]) {
    for x in xs.iter_mut() {
        *x = gelu(*x);
    }
}

on_widest_vector_unit! {
    /// GELU of every element, in place, on the widest vector unit the CPU has.
    pub fn gelu_in_place(xs: &mut [f32]) -> () = gelu_loop;
}
