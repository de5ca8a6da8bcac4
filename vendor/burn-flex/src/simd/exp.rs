//! Softmax numerators with a vectorised `exp` (acd-clip patch, see PATCHES.md).
//!
//! `exp` is Cephes' `expf`: `x = n·ln2 + r` with `|r| ≤ ln2/2`, a degree-6 polynomial for `e^r`
//! (relative error about 1.2e-7 over the reduced range) and `2^n` built in the exponent bits. It
//! is written as plain loops over blocks of 16 values with IEEE operations only (no FMA, no
//! table), which the compiler turns into AVX-512 or AVX2 code (chosen at run time), SIMD128 in
//! wasm or NEON, and every one of them gives the same bits: the page and the native CLI agree.

/// Cephes constants.
const EXP_HI: f32 = 88.376_26;
const EXP_LO: f32 = -88.376_26;
const LOG2E: f32 = core::f32::consts::LOG2_E;
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
const P: [f32; 6] = [
    1.987_569_1e-4,
    1.398_199_9e-3,
    8.333_452e-3,
    4.166_579_6e-2,
    0.166_666_65,
    0.5,
];

/// 1.5·2^23: added to a value of magnitude below 2^22, it leaves the value rounded to a whole number.
const ROUNDER: f32 = 12_582_912.0;

/// Values per block: the lanes of the max and the sum, so their order is the same on every target.
const LANES: usize = 16;

/// `e^x` for the softmax's `x ≤ 0` (below −88.38 gives 0; a NaN stays NaN).
#[inline(always)]
fn exp_cephes(x: f32) -> f32 {
    // Compare-and-select (a NaN fails both tests and is kept), which vectorises as min/max.
    let x = if x > EXP_HI { EXP_HI } else { x };
    let x = if x < EXP_LO { EXP_LO } else { x };
    // n = x·log2(e) rounded to the nearest whole number (ties to even): adding 1.5·2^23, where the
    // f32 spacing is 1, rounds it, and `shifted`'s low mantissa bits then hold n in two's
    // complement. No float-to-int conversion (its saturating semantics would not vectorise) and no
    // std-only rounding method.
    let shifted = x * LOG2E + ROUNDER;
    let n = shifted - ROUNDER;
    let r = x - n * LN2_HI - n * LN2_LO;
    let mut y = P[0];
    for &p in &P[1..] {
        y = y * r + p;
    }
    let y = y * r * r + r + 1.0;
    // 2^n in the exponent bits: n is in [−127, 128], and 2^−127 becomes 0.
    let biased = shifted
        .to_bits()
        .wrapping_sub(ROUNDER.to_bits())
        .wrapping_add(127);
    y * f32::from_bits(biased << 23)
}

#[inline(always)]
fn numerators(row: &mut [f32]) -> f32 {
    let mut lanes = [f32::NEG_INFINITY; LANES];
    let mut blocks = row.chunks_exact(LANES);
    for block in &mut blocks {
        for (m, &x) in lanes.iter_mut().zip(block) {
            *m = if x > *m { x } else { *m };
        }
    }
    let mut max = f32::NEG_INFINITY;
    for &x in lanes.iter().chain(blocks.remainder()) {
        max = if x > max { x } else { max };
    }
    let mut sums = [0.0f32; LANES];
    let mut blocks = row.chunks_exact_mut(LANES);
    for block in &mut blocks {
        for (s, x) in sums.iter_mut().zip(block) {
            *x = exp_cephes(*x - max);
            *s += *x;
        }
    }
    let mut sum: f32 = sums.iter().sum();
    for x in blocks.into_remainder() {
        *x = exp_cephes(*x - max);
        sum += *x;
    }
    sum
}

on_widest_vector_unit! {
    /// Rewrites `row` as `exp(x − max(row))` and returns the sum of the new values (0 for an
    /// empty row), on the widest vector unit the CPU has.
    pub fn softmax_numerators(row: &mut [f32]) -> f32 = numerators;
}

/// The same computation compiled for the baseline instruction set only (SSE2 on x86-64): the
/// tests check that it gives the bits `softmax_numerators` gives.
pub fn softmax_numerators_baseline(row: &mut [f32]) -> f32 {
    numerators(row)
}

// Tested from the workspace (this vendored crate is not a member): tests/tests/flex_kernels.rs.
