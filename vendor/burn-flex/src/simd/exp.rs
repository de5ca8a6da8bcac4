//! Softmax numerators with a vectorised `exp` (acd-clip patch, see PATCHES.md).
//!
//! `exp` is Cephes' `expf`: `x = n·ln2 + r` with `|r| ≤ ln2/2`, a degree-6 polynomial for `e^r`
//! (relative error about 1.2e-7 over the reduced range) and `2^n` built in the exponent bits. The
//! AVX2/FMA version is picked at run time; other targets use libm's scalar `expf`.

/// Rewrites `row` as `exp(x − max(row))` and returns the sum of the new values (0 for an empty row).
pub fn softmax_numerators(row: &mut [f32]) -> f32 {
    if row.is_empty() {
        return 0.0;
    }
    #[cfg(all(target_arch = "x86_64", feature = "std"))]
    {
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            return unsafe { avx2::softmax_numerators(row) };
        }
    }
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for x in row.iter_mut() {
        *x = libm::expf(*x - max);
        sum += *x;
    }
    sum
}

/// Cephes constants, shared by the vector body and the scalar tail so both round alike.
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

/// The same approximation as the vector body, one lane at a time (the tail of a row).
#[cfg(all(target_arch = "x86_64", feature = "std"))]
fn exp_cephes(x: f32) -> f32 {
    let x = x.clamp(EXP_LO, EXP_HI);
    let n = libm::rintf(x * LOG2E);
    let r = x - n * LN2_HI - n * LN2_LO;
    let mut y = P[0];
    for &p in &P[1..] {
        y = y * r + p;
    }
    let y = y * r * r + r + 1.0;
    y * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

#[cfg(all(target_arch = "x86_64", feature = "std"))]
mod avx2 {
    use super::*;
    use core::arch::x86_64::*;

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn exp8(x: __m256) -> __m256 {
        let x = _mm256_max_ps(_mm256_min_ps(x, _mm256_set1_ps(EXP_HI)), _mm256_set1_ps(EXP_LO));
        let n = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
            _mm256_mul_ps(x, _mm256_set1_ps(LOG2E)),
        );
        let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_HI), x);
        let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_LO), r);
        let mut y = _mm256_set1_ps(P[0]);
        for &p in &P[1..] {
            y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(p));
        }
        let r2 = _mm256_mul_ps(r, r);
        let y = _mm256_add_ps(_mm256_fmadd_ps(y, r2, r), _mm256_set1_ps(1.0));
        let pow2n = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(
            _mm256_cvtps_epi32(n),
            _mm256_set1_epi32(127),
        )));
        _mm256_mul_ps(y, pow2n)
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn hsum(v: __m256) -> f32 {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_shuffle_ps::<0b01>(s, s));
        _mm_cvtss_f32(s)
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn hmax(v: __m256) -> f32 {
        let s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let s = _mm_max_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_max_ss(s, _mm_shuffle_ps::<0b01>(s, s));
        _mm_cvtss_f32(s)
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn softmax_numerators(row: &mut [f32]) -> f32 {
        let body = row.len() / 8 * 8;
        let ptr = row.as_mut_ptr();
        let mut max = f32::NEG_INFINITY;
        unsafe {
            if body > 0 {
                let mut m = _mm256_set1_ps(f32::NEG_INFINITY);
                for i in (0..body).step_by(8) {
                    m = _mm256_max_ps(m, _mm256_loadu_ps(ptr.add(i)));
                }
                max = hmax(m);
            }
            for &x in &row[body..] {
                max = max.max(x);
            }
            let shift = _mm256_set1_ps(max);
            let mut acc = _mm256_setzero_ps();
            for i in (0..body).step_by(8) {
                let e = exp8(_mm256_sub_ps(_mm256_loadu_ps(ptr.add(i)), shift));
                _mm256_storeu_ps(ptr.add(i), e);
                acc = _mm256_add_ps(acc, e);
            }
            let mut sum = if body > 0 { hsum(acc) } else { 0.0 };
            for x in &mut row[body..] {
                *x = exp_cephes(*x - max);
                sum += *x;
            }
            sum
        }
    }
}

// Tested from the workspace (this vendored crate is not a member): tests/tests/flex_kernels.rs.
