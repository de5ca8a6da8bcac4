//! Deterministic transcendental functions.
//!
//! Why: `f32::sin`, `ln`, `exp`, ... call the platform libm, whose last-bit results differ
//! between glibc, musl, macOS and wasm. Every generated texture, mask and augmentation must be
//! bit-identical forever on every platform, so they only use the functions below, which are
//! built from IEEE-exact operations (+, -, *, /, sqrt, floor) evaluated in f64.

use std::f64::consts::{FRAC_PI_2, LN_2};

/// Sine and cosine of `x` (radians), accurate to ~1e-15 for |x| < 1e6.
pub fn sin_cos(x: f32) -> (f32, f32) {
    let (s, c) = sin_cos64(x as f64);
    (s as f32, c as f32)
}

/// f64 sine and cosine (same construction as [`sin_cos`]).
pub fn sin_cos64(x: f64) -> (f64, f64) {
    if !x.is_finite() {
        return (f64::NAN, f64::NAN);
    }
    // Reduce to r in [-pi/4, pi/4] around the nearest multiple of pi/2 (two-part constant).
    const PIO2_HI: f64 = 1.570_796_326_734_125_6;
    const PIO2_LO: f64 = 6.077_100_506_506_192e-11;
    let k = (x / FRAC_PI_2 + 0.5).floor();
    let r = (x - k * PIO2_HI) - k * PIO2_LO;
    let r2 = r * r;
    // Taylor series, enough terms for |r| <= pi/4 at f64 precision.
    let s = r
        * (1.0
            + r2 * (-1.0 / 6.0
                + r2 * (1.0 / 120.0
                    + r2 * (-1.0 / 5040.0
                        + r2 * (1.0 / 362_880.0
                            + r2 * (-1.0 / 39_916_800.0
                                + r2 * (1.0 / 6_227_020_800.0
                                    + r2 * (-1.0 / 1_307_674_368_000.0))))))));
    let c = 1.0
        + r2 * (-0.5
            + r2 * (1.0 / 24.0
                + r2 * (-1.0 / 720.0
                    + r2 * (1.0 / 40_320.0
                        + r2 * (-1.0 / 3_628_800.0
                            + r2 * (1.0 / 479_001_600.0 + r2 * (-1.0 / 87_178_291_200.0)))))));
    let q = (k.rem_euclid(4.0)) as i32;
    match q {
        0 => (s, c),
        1 => (c, -s),
        2 => (-s, -c),
        _ => (-c, s),
    }
}

/// Sine (radians).
pub fn sin(x: f32) -> f32 {
    sin_cos(x).0
}

/// Cosine (radians).
pub fn cos(x: f32) -> f32 {
    sin_cos(x).1
}

/// Natural exponential in f64.
pub fn exp64(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    let x = x.clamp(-708.0, 709.0);
    let k = (x / LN_2 + 0.5).floor();
    let r = x - k * LN_2; // |r| <= ln2/2 (+ rounding)
    let mut term = 1.0;
    let mut sum = 1.0;
    for i in 1..=14 {
        term *= r / i as f64;
        sum += term;
    }
    // Scale by 2^k through the exponent bits (k is within the normal range after the clamp).
    let k = k as i64;
    let (k1, k2) = (k / 2, k - k / 2);
    sum * f64::from_bits(((1023 + k1) as u64) << 52) * f64::from_bits(((1023 + k2) as u64) << 52)
}

/// Natural exponential.
pub fn exp(x: f32) -> f32 {
    exp64(x as f64) as f32
}

/// Natural logarithm in f64 (NaN for negative input, -inf for 0).
pub fn ln64(x: f64) -> f64 {
    if x.is_nan() || x < 0.0 {
        return f64::NAN;
    }
    if x == 0.0 {
        return f64::NEG_INFINITY;
    }
    if x.is_infinite() {
        return x;
    }
    // Normalise subnormals, then split x = m * 2^e with m in [sqrt(1/2), sqrt(2)).
    let (x, extra) = if x < f64::MIN_POSITIVE {
        (x * (1u64 << 54) as f64, -54)
    } else {
        (x, 0)
    };
    let bits = x.to_bits();
    let mut e = ((bits >> 52) & 0x7ff) as i64 - 1023 + extra;
    let mut m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | (1023u64 << 52));
    if m > std::f64::consts::SQRT_2 {
        m *= 0.5;
        e += 1;
    }
    // ln(m) = 2 atanh(s), s = (m-1)/(m+1), |s| < 0.172.
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let mut term = s;
    let mut sum = s;
    for i in 1..=11 {
        term *= s2;
        sum += term / (2 * i + 1) as f64;
    }
    e as f64 * LN_2 + 2.0 * sum
}

/// Natural logarithm.
pub fn ln(x: f32) -> f32 {
    ln64(x as f64) as f32
}

/// `x^y` for x > 0 (0 for x == 0 and y > 0).
pub fn powf(x: f32, y: f32) -> f32 {
    if x == 0.0 {
        return if y > 0.0 { 0.0 } else { f32::INFINITY };
    }
    exp64(y as f64 * ln64(x as f64)) as f32
}

/// Smooth Hermite step between `e0` and `e1`.
pub fn smoothstep(e0: f32, e1: f32, x: f32) -> f32 {
    let t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// Linear interpolation.
pub fn lerp(a: f32, b: f32, t: f32) -> f32 {
    a + (b - a) * t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_libm_closely() {
        let mut x = -50.0f64;
        while x < 50.0 {
            let (s, c) = sin_cos64(x);
            assert!((s - x.sin()).abs() < 1e-12, "sin {x}");
            assert!((c - x.cos()).abs() < 1e-12, "cos {x}");
            x += 0.0137;
        }
        for &v in &[1e-300, 1e-10, 0.3, 1.0, 1.5, 2.0, 10.0, 12345.678, 1e300] {
            assert!(
                (ln64(v) - v.ln()).abs() < 1e-12 * v.ln().abs().max(1.0),
                "ln {v}"
            );
        }
        let mut x = -30.0f64;
        while x < 30.0 {
            assert!((exp64(x) / x.exp() - 1.0).abs() < 1e-13, "exp {x}");
            x += 0.173;
        }
        assert!((powf(2.0, 10.0) - 1024.0).abs() < 1e-3);
    }
}
