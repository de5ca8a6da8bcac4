//! 2-D Perlin gradient noise and DRAEM-style thresholded Perlin masks.

use crate::detmath;
use crate::rng::Rng;

/// Eight unit gradient directions (a fixed table, so no trigonometry is needed).
const GRADS: [(f32, f32); 8] = [
    (1.0, 0.0),
    (-1.0, 0.0),
    (0.0, 1.0),
    (0.0, -1.0),
    (
        std::f32::consts::FRAC_1_SQRT_2,
        std::f32::consts::FRAC_1_SQRT_2,
    ),
    (
        -std::f32::consts::FRAC_1_SQRT_2,
        std::f32::consts::FRAC_1_SQRT_2,
    ),
    (
        std::f32::consts::FRAC_1_SQRT_2,
        -std::f32::consts::FRAC_1_SQRT_2,
    ),
    (
        -std::f32::consts::FRAC_1_SQRT_2,
        -std::f32::consts::FRAC_1_SQRT_2,
    ),
];

/// Seeded 2-D Perlin noise (permutation table shuffled from the seed).
#[derive(Clone, Debug)]
pub struct Perlin {
    perm: [u8; 512],
}

/// floor() as an integer without a libm call (x86-64 baseline has no SSE4.1 `roundss`).
/// Exact for |x| < 2^31.
#[inline]
pub fn fast_floor(x: f32) -> i32 {
    let i = x as i32;
    if x < i as f32 {
        i - 1
    } else {
        i
    }
}

#[inline]
fn fade(t: f32) -> f32 {
    // 6t^5 - 15t^4 + 10t^3: zero first and second derivative at the lattice points.
    t * t * t * (t * (t * 6.0 - 15.0) + 10.0)
}

impl Perlin {
    /// Noise field for `seed`.
    pub fn new(seed: u64) -> Self {
        let mut p: Vec<u8> = (0..=255u8).collect();
        Rng::derive(seed, 0x9e71).shuffle(&mut p);
        let mut perm = [0u8; 512];
        for i in 0..512 {
            perm[i] = p[i & 255];
        }
        Perlin { perm }
    }

    #[inline]
    fn grad(&self, ix: i32, iy: i32, dx: f32, dy: f32) -> f32 {
        let h = self.perm[(self.perm[(ix & 255) as usize] as usize + (iy & 255) as usize) & 511];
        let (gx, gy) = GRADS[(h & 7) as usize];
        gx * dx + gy * dy
    }

    /// Noise at (x, y), roughly in [-1, 1] (zero on the integer lattice).
    pub fn noise(&self, x: f32, y: f32) -> f32 {
        let (ix, iy) = (fast_floor(x), fast_floor(y));
        let (fx, fy) = (x - ix as f32, y - iy as f32);
        let n00 = self.grad(ix, iy, fx, fy);
        let n10 = self.grad(ix + 1, iy, fx - 1.0, fy);
        let n01 = self.grad(ix, iy + 1, fx, fy - 1.0);
        let n11 = self.grad(ix + 1, iy + 1, fx - 1.0, fy - 1.0);
        let (u, v) = (fade(fx), fade(fy));
        let a = n00 + (n10 - n00) * u;
        let b = n01 + (n11 - n01) * u;
        // sqrt(2) rescales the theoretical +-1/sqrt(2) range of unit-gradient noise to +-1.
        (a + (b - a) * v) * std::f32::consts::SQRT_2
    }

    /// Fractal sum of `octaves` octaves (frequency x`lacunarity`, amplitude x`gain` per octave),
    /// normalised so the result stays roughly in [-1, 1].
    pub fn fbm(&self, x: f32, y: f32, octaves: u32, lacunarity: f32, gain: f32) -> f32 {
        let (mut sum, mut amp, mut freq, mut norm) = (0.0, 1.0, 1.0, 0.0);
        for o in 0..octaves.max(1) {
            // Offset each octave so the lattice zeros of different octaves do not line up.
            let off = o as f32 * 17.31;
            sum += amp * self.noise(x * freq + off, y * freq - off);
            norm += amp;
            amp *= gain;
            freq *= lacunarity;
        }
        sum / norm
    }
}

/// Options of [`perlin_mask`]; the defaults follow DRAEM.
#[derive(Clone, Debug)]
pub struct PerlinMaskOptions {
    /// Smallest exponent k of the number of noise periods 2^k across the image.
    pub min_scale_exp: u32,
    /// Largest exponent (inclusive); DRAEM uses 0..=5, independently for x and y.
    pub max_scale_exp: u32,
    /// Pixels with noise above this are in the mask (DRAEM: 0.5).
    pub threshold: f32,
    /// Rotate the noise field by a random angle in [-90, 90] degrees (DRAEM does).
    pub rotate: bool,
}

impl Default for PerlinMaskOptions {
    fn default() -> Self {
        PerlinMaskOptions {
            min_scale_exp: 0,
            max_scale_exp: 5,
            threshold: 0.5,
            rotate: true,
        }
    }
}

/// Fills `out` (len width*height) with the raw Perlin field used by [`perlin_mask`].
pub fn perlin_field(width: u32, height: u32, opts: &PerlinMaskOptions, rng: &mut Rng) -> Vec<f32> {
    let lo = opts.min_scale_exp.min(opts.max_scale_exp) as i64;
    let hi = opts.max_scale_exp.max(opts.min_scale_exp) as i64;
    let sx = (1u32 << rng.range_i64_inclusive(lo, hi)) as f32;
    let sy = (1u32 << rng.range_i64_inclusive(lo, hi)) as f32;
    let angle = if opts.rotate {
        rng.range(-90.0, 90.0).to_radians()
    } else {
        0.0
    };
    let (sa, ca) = detmath::sin_cos(angle);
    let noise = Perlin::new(rng.next_u64());
    // Random sub-lattice offset: otherwise the lattice zeros always sit on the same pixels.
    let (ox, oy) = (rng.range(0.0, 64.0), rng.range(0.0, 64.0));
    let (w, h) = (width as f32, height as f32);
    let (cx, cy) = (w * 0.5, h * 0.5);
    let mut out = Vec::with_capacity((width * height) as usize);
    for y in 0..height {
        for x in 0..width {
            let (px, py) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
            let (rx, ry) = (ca * px - sa * py + cx, sa * px + ca * py + cy);
            out.push(noise.noise(rx / w * sx + ox, ry / h * sy + oy));
        }
    }
    out
}

/// DRAEM-style binary mask: random scales 2^kx, 2^ky periods, optional rotation,
/// `noise > threshold`. Returns one bool per pixel, row-major.
pub fn perlin_mask(width: u32, height: u32, opts: &PerlinMaskOptions, rng: &mut Rng) -> Vec<bool> {
    perlin_field(width, height, opts, rng)
        .into_iter()
        .map(|v| v > opts.threshold)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_is_bounded_and_smooth() {
        let p = Perlin::new(3);
        let mut max = 0f32;
        for i in 0..200 {
            for j in 0..200 {
                let (x, y) = (i as f32 * 0.071, j as f32 * 0.053);
                let v = p.noise(x, y);
                max = max.max(v.abs());
                assert!(v.abs() <= 1.01);
                assert!((p.noise(x + 1e-3, y) - v).abs() < 0.01);
            }
        }
        assert!(max > 0.5, "noise too flat: {max}");
        assert_eq!(p.noise(3.0, 5.0), 0.0);
    }

    #[test]
    fn mask_reproducible_and_seed_dependent() {
        let o = PerlinMaskOptions::default();
        let a = perlin_mask(64, 48, &o, &mut Rng::new(1));
        let b = perlin_mask(64, 48, &o, &mut Rng::new(1));
        assert_eq!(a, b);
        let differs = (2..10).any(|s| perlin_mask(64, 48, &o, &mut Rng::new(s)) != a);
        assert!(differs);
        // Over many seeds the mask is sometimes non-empty and never full.
        let covered: Vec<usize> = (0..20)
            .map(|s| {
                perlin_mask(64, 64, &o, &mut Rng::new(s))
                    .iter()
                    .filter(|&&m| m)
                    .count()
            })
            .collect();
        assert!(covered.iter().any(|&c| c > 0));
        assert!(covered.iter().all(|&c| c < 64 * 64));
    }
}
