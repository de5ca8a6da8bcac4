//! The official ACD-CLIP training augmentations.
//!
//! Order (as in the reference training script):
//! 1. on the u8 RGB image, before resize/normalise ([`color_augment`]):
//!    Gaussian-noise quirk (p = 0.3), then brightness, contrast, saturation jitter
//!    (each independently with p = 0.7, factor ~ U[0.5, 1.5], torchvision semantics);
//! 2. on the resized, normalised CHW image stacked with its mask ([`geometric_augment`]):
//!    RandomRotation(+-30 deg, p = 0.5), RandomAffine(translate +-15 %, p = 0.5),
//!    horizontal flip (p = 0.5), vertical flip (p = 0.5); nearest interpolation, fill 0, so
//!    the mask stays binary.
//!
//! Each step draws its parameters first ([`ColorParams::sample`], [`GeometricParams::sample`])
//! so tests and callers can apply fixed parameters.

use image::RgbImage;

use crate::detmath;
use crate::perlin::fast_floor;
use crate::rng::Rng;

/// P(Z > 3) for a standard normal Z. Drawing `u < P_GT_3` is distributed exactly like
/// "a standard normal draw exceeds 3" and needs one uniform instead of a Box-Muller pair.
pub const P_NORMAL_GT_3: f64 = 1.349_898_031_630_094_5e-3;

/// Colour augmentation parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct ColorParams {
    /// Whether the Gaussian-noise quirk runs (p = 0.3).
    pub noise: bool,
    /// Seed of the per-element noise draws.
    pub noise_seed: u64,
    /// Brightness factor, if applied.
    pub brightness: Option<f32>,
    /// Contrast factor, if applied.
    pub contrast: Option<f32>,
    /// Saturation factor, if applied.
    pub saturation: Option<f32>,
}

impl ColorParams {
    /// Draws the parameters with the official probabilities.
    pub fn sample(rng: &mut Rng) -> Self {
        let noise = rng.bernoulli(0.3);
        let noise_seed = rng.next_u64();
        let jitter = |rng: &mut Rng| {
            if rng.bernoulli(0.7) {
                Some(rng.range(0.5, 1.5))
            } else {
                None
            }
        };
        let brightness = jitter(rng);
        let contrast = jitter(rng);
        let saturation = jitter(rng);
        ColorParams {
            noise,
            noise_seed,
            brightness,
            contrast,
            saturation,
        }
    }

    /// Applies the parameters to `img` in place.
    pub fn apply(&self, img: &mut RgbImage) {
        let buf: &mut [u8] = img.as_mut();
        if self.noise {
            // Quirk of the reference code: elements where a N(0,1) draw exceeds 3 (~0.13 %) are
            // replaced by x * N(0,1), clamped to [0, 1] -- i.e. sparse salt/pepper-like pixels.
            let mut r = Rng::new(self.noise_seed);
            for v in buf.iter_mut() {
                if r.uniform64() < P_NORMAL_GT_3 {
                    let x = *v as f32 / 255.0 * r.normal();
                    *v = (x.clamp(0.0, 1.0) * 255.0).round() as u8;
                }
            }
        }
        // Work in f32 between steps (torchvision on float tensors); clamp to [0,255] per step.
        let mut f: Vec<f32> = buf.iter().map(|&v| v as f32).collect();
        if let Some(b) = self.brightness {
            // adjust_brightness: blend with black.
            f.iter_mut().for_each(|v| *v = (*v * b).clamp(0.0, 255.0));
        }
        if let Some(c) = self.contrast {
            // adjust_contrast: blend with the mean of the grayscale image.
            let n = (f.len() / 3).max(1) as f64;
            let mean = (f.chunks_exact(3).map(|p| gray(p) as f64).sum::<f64>() / n) as f32;
            f.iter_mut()
                .for_each(|v| *v = (c * *v + (1.0 - c) * mean).clamp(0.0, 255.0));
        }
        if let Some(s) = self.saturation {
            // adjust_saturation: blend each pixel with its grayscale value.
            for p in f.chunks_exact_mut(3) {
                let g = gray(p);
                p.iter_mut()
                    .for_each(|v| *v = (s * *v + (1.0 - s) * g).clamp(0.0, 255.0));
            }
        }
        for (d, v) in buf.iter_mut().zip(f) {
            *d = (v + 0.5) as u8;
        }
    }
}

/// torchvision's rgb_to_grayscale weights.
fn gray(p: &[f32]) -> f32 {
    0.2989 * p[0] + 0.587 * p[1] + 0.114 * p[2]
}

/// Colour augmentation of a u8 RGB image (step 1), before resize/normalise.
pub fn color_augment(img: &mut RgbImage, rng: &mut Rng) -> ColorParams {
    let p = ColorParams::sample(rng);
    p.apply(img);
    p
}

/// Geometric augmentation parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct GeometricParams {
    /// Rotation angle in degrees, counter-clockwise as displayed (torchvision), if applied.
    pub rotation_deg: Option<f32>,
    /// Translation in pixels (x right, y down) as a fraction of the size, if applied.
    pub translate: Option<(f32, f32)>,
    /// Horizontal flip.
    pub hflip: bool,
    /// Vertical flip.
    pub vflip: bool,
}

impl GeometricParams {
    /// Draws the parameters with the official probabilities.
    pub fn sample(rng: &mut Rng) -> Self {
        let rotation_deg = if rng.bernoulli(0.5) {
            Some(rng.range(-30.0, 30.0))
        } else {
            None
        };
        let translate = if rng.bernoulli(0.5) {
            Some((rng.range(-0.15, 0.15), rng.range(-0.15, 0.15)))
        } else {
            None
        };
        let hflip = rng.bernoulli(0.5);
        let vflip = rng.bernoulli(0.5);
        GeometricParams {
            rotation_deg,
            translate,
            hflip,
            vflip,
        }
    }

    /// The identity.
    pub fn identity() -> Self {
        GeometricParams {
            rotation_deg: None,
            translate: None,
            hflip: false,
            vflip: false,
        }
    }

    /// Applies to a CHW image (any channel count, `size` x `size`) and its `size` x `size`
    /// mask, in place: rotation, translation, hflip, vflip (the official order).
    pub fn apply<T: Copy + Default>(&self, image_chw: &mut [T], mask: &mut [T], size: usize) {
        let plane = size * size;
        assert_eq!(mask.len(), plane, "mask must be size*size");
        assert!(
            plane > 0 && image_chw.len().is_multiple_of(plane),
            "image must be C*size*size"
        );
        if let Some(deg) = self.rotation_deg {
            let (s, c) = detmath::sin_cos(deg.to_radians());
            // Inverse map: source = R(-angle) * dest about the centre (pixel centres).
            let half = size as f32 * 0.5;
            remap(image_chw, mask, size, |x, y| {
                let (dx, dy) = (x as f32 + 0.5 - half, y as f32 + 0.5 - half);
                let (sx, sy) = (c * dx - s * dy + half, s * dx + c * dy + half);
                (fast_floor(sx) as i64, fast_floor(sy) as i64)
            });
        }
        if let Some((tx, ty)) = self.translate {
            // torchvision rounds the translation to whole pixels.
            let (tx, ty) = (
                (tx * size as f32).round() as i64,
                (ty * size as f32).round() as i64,
            );
            remap(image_chw, mask, size, |x, y| (x as i64 - tx, y as i64 - ty));
        }
        if self.hflip {
            for row in image_chw
                .chunks_exact_mut(size)
                .chain(mask.chunks_exact_mut(size))
            {
                row.reverse();
            }
        }
        if self.vflip {
            for p in image_chw
                .chunks_exact_mut(plane)
                .chain(std::iter::once(&mut mask[..]))
            {
                for y in 0..size / 2 {
                    let (top, bottom) = p.split_at_mut((size - 1 - y) * size);
                    top[y * size..(y + 1) * size].swap_with_slice(&mut bottom[..size]);
                }
            }
        }
    }
}

/// Nearest-neighbour remap of every plane with fill `T::default()` (0) outside.
fn remap<T: Copy + Default>(
    image: &mut [T],
    mask: &mut [T],
    size: usize,
    f: impl Fn(usize, usize) -> (i64, i64),
) {
    let src_idx: Vec<Option<usize>> = (0..size * size)
        .map(|i| {
            let (sx, sy) = f(i % size, i / size);
            if sx >= 0 && sy >= 0 && (sx as usize) < size && (sy as usize) < size {
                Some(sy as usize * size + sx as usize)
            } else {
                None
            }
        })
        .collect();
    let mut tmp = vec![T::default(); size * size];
    for p in image
        .chunks_exact_mut(size * size)
        .chain(std::iter::once(mask))
    {
        for (t, s) in tmp.iter_mut().zip(&src_idx) {
            *t = s.map_or(T::default(), |k| p[k]);
        }
        p.copy_from_slice(&tmp);
    }
}

/// Geometric augmentation (step 2) of a normalised CHW image and its mask.
pub fn geometric_augment(
    image_chw: &mut [f32],
    mask: &mut [f32],
    size: usize,
    rng: &mut Rng,
) -> GeometricParams {
    let p = GeometricParams::sample(rng);
    p.apply(image_chw, mask, size);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(c: usize, size: usize) -> Vec<f32> {
        (0..c * size * size).map(|i| i as f32).collect()
    }

    #[test]
    fn flips_twice_are_identity() {
        let size = 7;
        let img0 = ramp(3, size);
        let mask0: Vec<f32> = (0..size * size)
            .map(|i| (i % 3 == 0) as u8 as f32)
            .collect();
        for (h, v) in [(true, false), (false, true), (true, true)] {
            let p = GeometricParams {
                rotation_deg: None,
                translate: None,
                hflip: h,
                vflip: v,
            };
            let (mut img, mut mask) = (img0.clone(), mask0.clone());
            p.apply(&mut img, &mut mask, size);
            assert_ne!(img, img0);
            p.apply(&mut img, &mut mask, size);
            assert_eq!(img, img0);
            assert_eq!(mask, mask0);
        }
        // hflip moves (x, y) to (size-1-x, y), in every plane and the mask.
        let p = GeometricParams {
            hflip: true,
            ..GeometricParams::identity()
        };
        let (mut img, mut mask) = (img0.clone(), mask0.clone());
        p.apply(&mut img, &mut mask, size);
        assert_eq!(
            img[size * size + 2 * size],
            img0[size * size + 2 * size + size - 1]
        );
        assert_eq!(mask[size], mask0[2 * size - 1]);
    }

    #[test]
    fn rotation_and_translation() {
        let size = 9;
        let mut img = vec![0f32; size * size];
        let mut mask = vec![0f32; size * size];
        img[4 * size + 7] = 5.0; // right of centre (x=7, y=4)
        mask[4 * size + 7] = 1.0;
        let p = GeometricParams {
            rotation_deg: Some(90.0),
            ..GeometricParams::identity()
        };
        p.apply(&mut img, &mut mask, size);
        // Counter-clockwise as displayed: right of centre moves above the centre (x=4, y=1).
        assert_eq!(img[size + 4], 5.0);
        assert_eq!(mask.iter().sum::<f32>(), 1.0);
        let p = GeometricParams {
            translate: Some((1.0 / 9.0, 0.0)),
            ..GeometricParams::identity()
        };
        p.apply(&mut img, &mut mask, size);
        assert_eq!(img[size + 5], 5.0);
        assert_eq!(img[size * size - size], 0.0); // filled with 0
    }

    #[test]
    fn rotation_keeps_mask_binary() {
        let size = 32;
        for seed in 0..20 {
            let mut rng = Rng::new(seed);
            let mut img = ramp(3, size);
            let mut mask: Vec<f32> = (0..size * size).map(|i| ((i / 5) % 2) as f32).collect();
            let p = geometric_augment(&mut img, &mut mask, size, &mut rng);
            assert!(mask.iter().all(|&m| m == 0.0 || m == 1.0), "{p:?}");
        }
        let p = GeometricParams {
            rotation_deg: Some(17.0),
            ..GeometricParams::identity()
        };
        let mut img = ramp(3, size);
        let mut mask: Vec<f32> = vec![1.0; size * size];
        p.apply(&mut img, &mut mask, size);
        assert!(mask.iter().all(|&m| m == 0.0 || m == 1.0));
        assert!(mask.contains(&0.0)); // corners were filled with 0
    }

    #[test]
    fn noise_probability_is_about_0_3() {
        // 2000 Bernoulli(0.3) draws: sd = sqrt(0.3*0.7/2000) = 0.0102; bound 0.05 is ~5 sd.
        let n = 2000;
        let hits = (0..n)
            .filter(|&s| ColorParams::sample(&mut Rng::derive(99, s)).noise)
            .count();
        let f = hits as f64 / n as f64;
        assert!((f - 0.3).abs() < 0.05, "{f}");
        // Jitter applied with p = 0.7 each.
        let b = (0..n)
            .filter(|&s| {
                ColorParams::sample(&mut Rng::derive(98, s))
                    .brightness
                    .is_some()
            })
            .count();
        assert!((b as f64 / n as f64 - 0.7).abs() < 0.05);
    }

    #[test]
    fn noise_quirk_touches_few_elements_and_jitter_semantics() {
        let mut img = RgbImage::from_pixel(100, 100, image::Rgb([200, 100, 50]));
        let p = ColorParams {
            noise: true,
            noise_seed: 1,
            brightness: None,
            contrast: None,
            saturation: None,
        };
        p.apply(&mut img);
        let changed = img
            .as_raw()
            .iter()
            .zip(RgbImage::from_pixel(100, 100, image::Rgb([200, 100, 50])).as_raw())
            .filter(|(a, b)| a != b)
            .count();
        // Expected 30000 * 0.00135 = 40.5, sd ~6.4.
        assert!((10..80).contains(&changed), "{changed}");

        let mut img = RgbImage::from_pixel(2, 1, image::Rgb([200, 100, 50]));
        ColorParams {
            noise: false,
            noise_seed: 0,
            brightness: Some(0.5),
            contrast: None,
            saturation: None,
        }
        .apply(&mut img);
        assert_eq!(img.get_pixel(0, 0).0, [100, 50, 25]);
        ColorParams {
            noise: false,
            noise_seed: 0,
            brightness: None,
            contrast: None,
            saturation: Some(0.0),
        }
        .apply(&mut img);
        let g = img.get_pixel(0, 0).0;
        assert!(g[0] == g[1] && g[1] == g[2]);
        let mut img = RgbImage::from_fn(2, 1, |x, _| image::Rgb([if x == 0 { 0 } else { 200 }; 3]));
        ColorParams {
            noise: false,
            noise_seed: 0,
            brightness: None,
            contrast: Some(0.0),
            saturation: None,
        }
        .apply(&mut img);
        assert_eq!(img.get_pixel(0, 0).0, img.get_pixel(1, 0).0); // all at the mean
    }
}
