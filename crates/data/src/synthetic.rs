//! Synthetic anomalies on normal images: the defective image and its pixel mask together.
//!
//! Guarantees of [`Synthesizer::synthesize`] (tested):
//! * reproducible: same image + seed -> identical bytes;
//! * the mask is binary (0/255), non-empty and covers between `min_area_fraction` and
//!   `max_area_fraction` of the image (otherwise the generator retries with derived seeds and
//!   finally falls back to a guaranteed-visible spot);
//! * honest labels: a pixel is in the mask only if its mean absolute RGB change is at least
//!   `change_threshold` grey levels; changes below that are reverted, so every pixel outside
//!   the mask is bit-for-bit the input pixel.

use std::fmt;
use std::str::FromStr;

use image::{GrayImage, RgbImage};
use serde::{Deserialize, Serialize};

use crate::detmath::{self, lerp, smoothstep};
use crate::error::{DataError, Result};
use crate::perlin::{perlin_mask, Perlin, PerlinMaskOptions};
use crate::rng::Rng;
use crate::textures::{self, hsv, TextureKind};

/// The kinds of synthetic anomaly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum AnomalyKind {
    /// DRAEM: a Perlin-shaped region blended with another texture or a distorted copy.
    Draem,
    /// CutPaste: a patch of the image (rotated/scaled/jittered) pasted elsewhere.
    CutPaste,
    /// Thin curved lines of a contrasting colour.
    Scratch,
    /// Soft-edged darker/lighter/tinted blobs (stains).
    Spot,
    /// A change of the whole texture, or of a large soft-edged part of it: colour, contrast,
    /// blur, density (scale) or orientation. Opt-in (not in [`AnomalyKind::all`]): real defects
    /// such as a wrong dye lot or a loose weave are not local, and a model trained on local kinds
    /// only never sees one. Its masks cover at least [`TEXTURE_WIDE_MIN_AREA`] of the image.
    TextureWide,
}

/// Smallest area (fraction of the image) of a texture-wide anomaly's mask.
pub const TEXTURE_WIDE_MIN_AREA: f32 = 0.2;

impl AnomalyKind {
    /// All kinds, in a fixed order.
    pub fn all() -> &'static [AnomalyKind] {
        &[
            AnomalyKind::Draem,
            AnomalyKind::CutPaste,
            AnomalyKind::Scratch,
            AnomalyKind::Spot,
        ]
    }

    /// Every kind: [`AnomalyKind::all`] and the opt-in ones.
    pub fn every() -> &'static [AnomalyKind] {
        &[
            AnomalyKind::Draem,
            AnomalyKind::CutPaste,
            AnomalyKind::Scratch,
            AnomalyKind::Spot,
            AnomalyKind::TextureWide,
        ]
    }

    /// snake_case name, used as the defect folder name.
    pub fn name(self) -> &'static str {
        match self {
            AnomalyKind::Draem => "draem",
            AnomalyKind::CutPaste => "cut_paste",
            AnomalyKind::Scratch => "scratch",
            AnomalyKind::Spot => "spot",
            AnomalyKind::TextureWide => "texture_wide",
        }
    }
}

impl fmt::Display for AnomalyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for AnomalyKind {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let t = s.trim().to_ascii_lowercase().replace('-', "_");
        let t = match t.as_str() {
            "cutpaste" => "cut_paste",
            "scratches" => "scratch",
            "spots" | "stain" => "spot",
            "global" | "texturewide" => "texture_wide",
            other => other,
        };
        AnomalyKind::every()
            .iter()
            .copied()
            .find(|k| k.name() == t)
            .ok_or_else(|| {
                format!(
                    "unknown anomaly kind {s:?} (expected draem, cut_paste, scratch, spot or \
                     texture_wide)"
                )
            })
    }
}

impl From<AnomalyKind> for String {
    fn from(k: AnomalyKind) -> String {
        k.name().to_string()
    }
}

impl TryFrom<String> for AnomalyKind {
    type Error = String;
    fn try_from(s: String) -> std::result::Result<Self, Self::Error> {
        s.parse()
    }
}

/// What fills a DRAEM region when no source image is passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DraemSource {
    /// A procedural texture of a random kind from `Synthesizer::texture_kinds`.
    Procedural,
    /// A distorted (colour-shifted / blurred / warped) copy of the image itself.
    SelfDistortion,
    /// Either, with probability 1/2.
    Mixed,
}

/// Anomaly synthesis settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Synthesizer {
    /// Kinds drawn from when no kind is requested.
    pub kinds: Vec<AnomalyKind>,
    /// Minimum fraction of the image the final mask must cover.
    pub min_area_fraction: f32,
    /// Maximum fraction of the image the final mask may cover.
    pub max_area_fraction: f32,
    /// Opacity range of DRAEM blends (DRAEM: 1 - beta, beta in [0, 0.8]).
    pub opacity: (f32, f32),
    /// Minimum mean absolute RGB change (grey levels) for a pixel to count as anomalous.
    pub change_threshold: f32,
    /// Attempts (each with a derived seed) before the guaranteed fallback.
    pub max_attempts: u32,
    /// DRAEM fill when no source image is given.
    pub draem_source: DraemSource,
    /// Procedural textures usable as DRAEM fill.
    pub texture_kinds: Vec<TextureKind>,
}

impl Default for Synthesizer {
    fn default() -> Self {
        Synthesizer {
            kinds: AnomalyKind::all().to_vec(),
            min_area_fraction: 0.001,
            max_area_fraction: 0.25,
            opacity: (0.3, 1.0),
            change_threshold: 8.0,
            max_attempts: 24,
            draem_source: DraemSource::Mixed,
            texture_kinds: TextureKind::all().to_vec(),
        }
    }
}

/// A synthesized anomalous image.
#[derive(Clone, Debug)]
pub struct Synthesis {
    /// The image with the anomaly.
    pub image: RgbImage,
    /// Binary mask (0 / 255) of the pixels that changed noticeably.
    pub mask: GrayImage,
    /// The kind actually produced (the fallback produces `Spot`).
    pub kind: AnomalyKind,
    /// Number of attempts used (1 = first try; `max_attempts + 1` = fallback).
    pub attempts: u32,
}

impl Synthesizer {
    fn validate(&self, img: &RgbImage) -> Result<()> {
        let (w, h) = img.dimensions();
        if w < 4 || h < 4 {
            return Err(DataError::Invalid(format!(
                "image {w}x{h} is too small (min 4x4)"
            )));
        }
        let (lo, hi) = (self.min_area_fraction, self.max_area_fraction);
        if !(lo > 0.0 && lo <= hi && hi <= 1.0) {
            return Err(DataError::Invalid(format!(
                "area fractions must satisfy 0 < min <= max <= 1, got {lo}..{hi}"
            )));
        }
        if !(self.change_threshold >= 0.0 && self.change_threshold <= 127.0) {
            return Err(DataError::Invalid(format!(
                "change_threshold {} outside [0, 127]",
                self.change_threshold
            )));
        }
        let (olo, ohi) = self.opacity;
        if !(0.0 < olo && olo <= ohi && ohi <= 1.0) {
            return Err(DataError::Invalid(format!(
                "opacity range {olo}..{ohi} outside (0, 1]"
            )));
        }
        Ok(())
    }

    /// Adds one anomaly of `kind` (or of a kind drawn from `self.kinds` when `None`).
    pub fn synthesize(
        &self,
        image: &RgbImage,
        kind: Option<AnomalyKind>,
        seed: u64,
    ) -> Result<Synthesis> {
        self.run(image, None, kind, seed)
    }

    /// Like [`Self::synthesize`] but DRAEM regions are filled from `source` (e.g. a DTD
    /// texture photo), resized to the image size and colour-augmented.
    pub fn synthesize_with_source(
        &self,
        image: &RgbImage,
        source: &RgbImage,
        kind: Option<AnomalyKind>,
        seed: u64,
    ) -> Result<Synthesis> {
        self.run(image, Some(source), kind, seed)
    }

    fn run(
        &self,
        image: &RgbImage,
        source: Option<&RgbImage>,
        kind: Option<AnomalyKind>,
        seed: u64,
    ) -> Result<Synthesis> {
        self.validate(image)?;
        let kind = match kind {
            Some(k) => k,
            None => {
                let kinds = if self.kinds.is_empty() {
                    AnomalyKind::all()
                } else {
                    &self.kinds[..]
                };
                *Rng::derive(seed, 0x6b696e64)
                    .choose(kinds)
                    .expect("non-empty")
            }
        };
        let (w, h) = image.dimensions();
        let total = (w as u64 * h as u64) as f64;
        let (lo, hi) = match kind {
            // Texture-wide changes are large by definition; the local kinds' bounds do not apply.
            AnomalyKind::TextureWide => (
                self.min_area_fraction.max(TEXTURE_WIDE_MIN_AREA) as f64 * total,
                total,
            ),
            _ => (
                self.min_area_fraction as f64 * total,
                self.max_area_fraction as f64 * total,
            ),
        };
        let ok = |n: u64| n > 0 && n as f64 >= lo && n as f64 <= hi;
        for attempt in 0..self.max_attempts {
            let mut rng = Rng::derive(seed, attempt as u64 + 1);
            let cand = match kind {
                AnomalyKind::Draem => self.draem(image, source, &mut rng),
                AnomalyKind::CutPaste => self.cut_paste(image, &mut rng),
                AnomalyKind::Scratch => self.scratch(image, &mut rng),
                AnomalyKind::Spot => self.spot(image, &mut rng),
                AnomalyKind::TextureWide => texture_wide(image, &mut rng),
            };
            let (out, mask, n) = honest(image, &cand, self.change_threshold);
            if ok(n) {
                return Ok(Synthesis {
                    image: out,
                    mask,
                    kind,
                    attempts: attempt + 1,
                });
            }
        }
        // Fallback: an elliptical region of the target area whose channels are shifted by 128
        // (texture kept, change always 128 >= threshold).
        let target = (lo * hi).sqrt().max(lo).min(hi);
        let cand = fallback_spot(image, target, &mut Rng::derive(seed, 0xfa11));
        let (out, mask, n) = honest(image, &cand, self.change_threshold);
        if ok(n) {
            return Ok(Synthesis {
                image: out,
                mask,
                kind: AnomalyKind::Spot,
                attempts: self.max_attempts + 1,
            });
        }
        Err(DataError::Invalid(format!(
            "cannot place an anomaly covering {:.4}..{:.4} of a {w}x{h} image",
            self.min_area_fraction, self.max_area_fraction
        )))
    }

    /// Target area in pixels, log-uniform within the allowed range (capped to keep shapes sane).
    fn target_area(&self, w: u32, h: u32, rng: &mut Rng, cap: f32) -> f32 {
        let total = (w * h) as f32;
        let lo = self.min_area_fraction.max(1.0 / total);
        let hi = self.max_area_fraction.min(cap).max(lo);
        let t = rng.uniform();
        total * detmath::exp(detmath::ln(lo) + t * (detmath::ln(hi) - detmath::ln(lo)))
    }

    fn draem(&self, img: &RgbImage, source: Option<&RgbImage>, rng: &mut Rng) -> RgbImage {
        let (w, h) = img.dimensions();
        let mask = perlin_mask(w, h, &PerlinMaskOptions::default(), rng);
        let fill = match source {
            Some(src) => {
                let mut f = resize_bilinear(src, w, h);
                random_colour_ops(&mut f, rng, 3);
                f
            }
            None => {
                let procedural = match self.draem_source {
                    DraemSource::Procedural => true,
                    DraemSource::SelfDistortion => false,
                    DraemSource::Mixed => rng.bernoulli(0.5),
                };
                if procedural {
                    let kinds = if self.texture_kinds.is_empty() {
                        TextureKind::all()
                    } else {
                        &self.texture_kinds[..]
                    };
                    let k = *rng.choose(kinds).expect("non-empty");
                    let mut f = textures::generate_rect(k, rng.next_u64(), w, h);
                    random_colour_ops(&mut f, rng, 1);
                    f
                } else {
                    self_distort(img, rng)
                }
            }
        };
        let beta = rng.range(self.opacity.0, self.opacity.1);
        let mut out = img.clone();
        let (o, f) = (out.as_mut(), fill.as_raw());
        for (i, &m) in mask.iter().enumerate() {
            if m {
                for c in 0..3 {
                    let k = i * 3 + c;
                    o[k] = (lerp(o[k] as f32, f[k] as f32, beta) + 0.5) as u8;
                }
            }
        }
        out
    }

    fn cut_paste(&self, img: &RgbImage, rng: &mut Rng) -> RgbImage {
        let (w, h) = img.dimensions();
        let area = self.target_area(w, h, rng, 0.15);
        // Log-uniform aspect ratio in [0.3, 3.3] as in CutPaste.
        let ar = detmath::exp(rng.range(detmath::ln(0.3), detmath::ln(3.3)));
        let pw = (area * ar).sqrt().clamp(2.0, w as f32 * 0.9);
        let ph = (area / ar).sqrt().clamp(2.0, h as f32 * 0.9);
        let sx = rng.range(0.0, w as f32 - pw);
        let sy = rng.range(0.0, h as f32 - ph);
        let angle = if rng.bernoulli(0.5) {
            rng.range(-45.0f32, 45.0).to_radians()
        } else {
            0.0
        };
        let scale = rng.range(0.85, 1.2);
        let (sa, ca) = detmath::sin_cos(angle);
        // Destination centre, at least half a patch away from the source centre when possible.
        let (scx, scy) = (sx + pw * 0.5, sy + ph * 0.5);
        let (mut dcx, mut dcy) = (0.0, 0.0);
        for _ in 0..8 {
            dcx = rng.range(pw * 0.3, w as f32 - pw * 0.3);
            dcy = rng.range(ph * 0.3, h as f32 - ph * 0.3);
            if (dcx - scx).abs() > pw * 0.5 || (dcy - scy).abs() > ph * 0.5 {
                break;
            }
        }
        let gain = [
            rng.range(0.8, 1.2),
            rng.range(0.8, 1.2),
            rng.range(0.8, 1.2),
        ];
        let bright = rng.range(-20.0, 20.0);
        let reach = 0.5 * (pw * pw + ph * ph).sqrt() * scale + 1.0;
        let (x0, x1) = (
            ((dcx - reach).floor().max(0.0)) as u32,
            ((dcx + reach).ceil().min(w as f32 - 1.0)) as u32,
        );
        let (y0, y1) = (
            ((dcy - reach).floor().max(0.0)) as u32,
            ((dcy + reach).ceil().min(h as f32 - 1.0)) as u32,
        );
        let mut out = img.clone();
        for y in y0..=y1 {
            for x in x0..=x1 {
                let (dx, dy) = (
                    (x as f32 + 0.5 - dcx) / scale,
                    (y as f32 + 0.5 - dcy) / scale,
                );
                // Inverse rotation into patch coordinates.
                let (lx, ly) = (ca * dx + sa * dy + pw * 0.5, -sa * dx + ca * dy + ph * 0.5);
                if lx < 0.0 || ly < 0.0 || lx >= pw || ly >= ph {
                    continue;
                }
                let p = sample_bilinear(img, sx + lx, sy + ly);
                let q = out.get_pixel_mut(x, y);
                for c in 0..3 {
                    q.0[c] = (p[c] * gain[c] + bright).clamp(0.0, 255.0).round() as u8;
                }
            }
        }
        out
    }

    fn scratch(&self, img: &RgbImage, rng: &mut Rng) -> RgbImage {
        let (w, h) = img.dimensions();
        let s = (w.min(h) as f32 / 256.0).max(0.25);
        let mean_lum = mean_luma(img);
        let mut alpha = vec![0f32; (w * h) as usize];
        let mut out = img.clone();
        let n = rng.range_usize(1, 4);
        for _ in 0..n {
            alpha.iter_mut().for_each(|a| *a = 0.0);
            let len = rng.range(0.2, 0.6) * w.min(h) as f32;
            let half_w = rng.range(0.5, 1.6) * s.max(1.0);
            let (mut x, mut y) = (rng.range(0.0, w as f32), rng.range(0.0, h as f32));
            let mut heading = rng.range(0.0, std::f32::consts::TAU);
            let mut turn = rng.range(-0.012, 0.012) / s;
            let step = s.max(1.0);
            let steps = (len / step) as usize + 2;
            let mut pts = Vec::with_capacity(steps);
            for _ in 0..steps {
                pts.push((x, y));
                turn = (turn + rng.gaussian(0.0, 0.0015) / s).clamp(-0.025, 0.025);
                heading += turn;
                let (sh, ch) = detmath::sin_cos(heading);
                x += ch * step;
                y += sh * step;
            }
            for (k, win) in pts.windows(2).enumerate() {
                let t = k as f32 / (steps - 1) as f32;
                let taper = (3.0 * t.min(1.0 - t) + 0.3).min(1.0);
                draw_segment(&mut alpha, w, h, win[0], win[1], half_w * taper);
            }
            // Light scratches (bare metal) or dark ones, mostly contrasting with the image.
            let light = if rng.bernoulli(0.75) {
                mean_lum < 140.0
            } else {
                mean_lum >= 140.0
            };
            let target = if light {
                235.0 + rng.range(0.0, 20.0)
            } else {
                rng.range(5.0, 40.0)
            };
            let strength = rng.range(0.55, 0.95);
            blend_towards(&mut out, &alpha, [target; 3], strength);
        }
        out
    }

    fn spot(&self, img: &RgbImage, rng: &mut Rng) -> RgbImage {
        let (w, h) = img.dimensions();
        let area = self.target_area(w, h, rng, 0.1);
        let n = rng.range_usize(1, 4);
        let mut out = img.clone();
        let noise = Perlin::new(rng.next_u64());
        for b in 0..n {
            let r0 = (area / n as f32 / std::f32::consts::PI).sqrt().max(1.5);
            let aspect = rng.range(0.6, 1.6);
            let (rx, ry) = (r0 * aspect.sqrt(), r0 / aspect.sqrt());
            let (sa, ca) = detmath::sin_cos(rng.range(0.0, std::f32::consts::PI));
            let (cx, cy) = (rng.range(0.0, w as f32), rng.range(0.0, h as f32));
            let soft = rng.range(0.1, 0.6);
            let wobble = rng.range(0.1, 0.35);
            let off = b as f32 * 13.7;
            let reach = rx.max(ry) * (1.0 + wobble) + 2.0;
            let mut alpha = vec![0f32; (w * h) as usize];
            let (x0, x1) = (
                (cx - reach).floor().max(0.0) as u32,
                (cx + reach).ceil().min(w as f32 - 1.0) as u32,
            );
            let (y0, y1) = (
                (cy - reach).floor().max(0.0) as u32,
                (cy + reach).ceil().min(h as f32 - 1.0) as u32,
            );
            for y in y0..=y1 {
                for x in x0..=x1 {
                    let (dx, dy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
                    let (u, v) = ((ca * dx + sa * dy) / rx, (-sa * dx + ca * dy) / ry);
                    let d = (u * u + v * v).sqrt();
                    // Irregular outline: the radius varies with direction (noise on the unit circle).
                    let (nx, ny) = if d > 1e-6 { (u / d, v / d) } else { (1.0, 0.0) };
                    let rad = 1.0 + wobble * noise.noise(nx * 1.3 + off, ny * 1.3 - off);
                    let a = 1.0 - smoothstep(rad * (1.0 - soft), rad, d);
                    alpha[(y * w + x) as usize] = a;
                }
            }
            match rng.range_usize(0, 3) {
                0 => {
                    let k = rng.range(0.3, 0.75);
                    multiply_by(&mut out, &alpha, 1.0 - k); // dark stain
                }
                1 => {
                    let k = rng.range(0.35, 0.8);
                    blend_towards(&mut out, &alpha, [255.0; 3], k); // bleached spot
                }
                _ => {
                    let col = hsv(rng.uniform(), rng.range(0.4, 0.9), rng.range(0.2, 0.8));
                    let k = rng.range(0.4, 0.85);
                    blend_towards(
                        &mut out,
                        &alpha,
                        [col[0] * 255.0, col[1] * 255.0, col[2] * 255.0],
                        k,
                    ); // tinted stain
                }
            }
        }
        out
    }
}

/// A texture-wide change: the whole image (half of the time) or a large soft-edged half-plane
/// (40-80 % of it) takes a transformed copy of the image: colour, contrast, blur, density or
/// orientation.
fn texture_wide(img: &RgbImage, rng: &mut Rng) -> RgbImage {
    let (w, h) = img.dimensions();
    let s = (w.min(h) as f32 / 256.0).max(0.25);
    let changed = match rng.range_usize(0, 5) {
        0 => {
            let mut out = img.clone();
            let sign = if rng.bernoulli(0.5) { 1.0 } else { -1.0 };
            hue_rotate(&mut out, sign * rng.range(0.08, 0.25));
            scale_brightness(&mut out, rng.range(0.85, 1.15), 1.0);
            out
        }
        1 => {
            let mut out = img.clone();
            let gain = if rng.bernoulli(0.5) {
                rng.range(0.4, 0.7)
            } else {
                rng.range(1.4, 1.9)
            };
            let brightness = rng.range(0.75, 1.25);
            scale_brightness(&mut out, brightness, gain);
            out
        }
        2 => box_blur(img, (rng.range(1.5, 4.0) * s).round().max(1.0) as u32),
        3 => {
            // Denser or sparser texture: the image resampled about its centre.
            let zoom = if rng.bernoulli(0.5) {
                rng.range(0.5, 0.75)
            } else {
                rng.range(1.35, 1.8)
            };
            warp_mirrored(img, |x, y| (x / zoom, y / zoom))
        }
        _ => {
            // Turned texture (a weave or grain in the wrong direction).
            let angle = rng.range(25.0f32, 90.0).to_radians();
            let (sa, ca) = detmath::sin_cos(angle);
            warp_mirrored(img, |x, y| (ca * x + sa * y, -sa * x + ca * y))
        }
    };
    if rng.bernoulli(0.5) {
        return changed;
    }
    // A half-plane with a soft edge, covering 40-80 % of the image.
    let (sa, ca) = detmath::sin_cos(rng.range(0.0, std::f32::consts::TAU));
    let cover = rng.range(0.4, 0.8);
    let reach = 0.5 * (w as f32 * ca.abs() + h as f32 * sa.abs());
    let edge = reach * (1.0 - 2.0 * cover);
    let soft = rng.range(2.0, 10.0) * s;
    let mut out = img.clone();
    let (o, c) = (out.as_mut(), changed.as_raw());
    for y in 0..h {
        for x in 0..w {
            let (dx, dy) = (
                x as f32 + 0.5 - w as f32 * 0.5,
                y as f32 + 0.5 - h as f32 * 0.5,
            );
            let a = smoothstep(edge - soft, edge + soft, ca * dx + sa * dy);
            let i = ((y * w + x) * 3) as usize;
            for k in i..i + 3 {
                o[k] = (lerp(o[k] as f32, c[k] as f32, a) + 0.5) as u8;
            }
        }
    }
    out
}

/// Pixels scaled about the image mean: `v -> mean + gain (v - mean)`, then times `brightness`.
fn scale_brightness(img: &mut RgbImage, brightness: f32, gain: f32) {
    let mean = mean_luma(img);
    for v in img.as_mut() {
        *v = ((mean + gain * (*v as f32 - mean)) * brightness)
            .clamp(0.0, 255.0)
            .round() as u8;
    }
}

/// The image resampled through `map` (centred pixel coordinates in, centred source coordinates
/// out), mirrored at the borders so that the texture continues.
fn warp_mirrored(img: &RgbImage, map: impl Fn(f32, f32) -> (f32, f32)) -> RgbImage {
    let (w, h) = img.dimensions();
    let (cx, cy) = (w as f32 * 0.5, h as f32 * 0.5);
    let mirror = |v: f32, n: f32| {
        let period = 2.0 * n;
        let m = v.rem_euclid(period);
        if m < n {
            m
        } else {
            period - m
        }
    };
    RgbImage::from_fn(w, h, |x, y| {
        let (sx, sy) = map(x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
        let p = sample_bilinear(img, mirror(sx + cx, w as f32), mirror(sy + cy, h as f32));
        image::Rgb([p[0].round() as u8, p[1].round() as u8, p[2].round() as u8])
    })
}

/// Keeps only noticeable changes: returns (image, mask, mask pixel count).
fn honest(orig: &RgbImage, cand: &RgbImage, threshold: f32) -> (RgbImage, GrayImage, u64) {
    let (w, h) = orig.dimensions();
    let mut out = orig.clone();
    let mut mask = GrayImage::new(w, h);
    let mut n = 0;
    let (o, c, m) = (out.as_mut(), cand.as_raw(), mask.as_mut());
    let thr = (threshold * 3.0).ceil() as u32; // mean over 3 channels >= threshold
    for ((op, cp), mp) in o
        .chunks_exact_mut(3)
        .zip(c.chunks_exact(3))
        .zip(m.iter_mut())
    {
        let diff: u32 = op
            .iter()
            .zip(cp)
            .map(|(&a, &b)| (a as i32 - b as i32).unsigned_abs())
            .sum();
        if diff >= thr.max(1) {
            op.copy_from_slice(cp);
            *mp = 255;
            n += 1;
        }
    }
    (out, mask, n)
}

fn fallback_spot(img: &RgbImage, target: f64, rng: &mut Rng) -> RgbImage {
    let (w, h) = img.dimensions();
    let r = ((target / std::f64::consts::PI).sqrt() as f32).max(0.6);
    // Centre snapped to a pixel centre, so at least that pixel is inside the disc.
    let (cx, cy) = (
        rng.range(r.min(w as f32 * 0.5), (w as f32 - r).max(w as f32 * 0.5)) as u32 as f32 + 0.5,
        rng.range(r.min(h as f32 * 0.5), (h as f32 - r).max(h as f32 * 0.5)) as u32 as f32 + 0.5,
    );
    let mut out = img.clone();
    for (x, y, p) in out.enumerate_pixels_mut() {
        let (dx, dy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
        if dx * dx + dy * dy <= r * r {
            for v in &mut p.0 {
                *v = if *v < 128 { *v + 128 } else { *v - 128 };
            }
        }
    }
    out
}

fn mean_luma(img: &RgbImage) -> f32 {
    let s: f64 = img
        .pixels()
        .map(|p| 0.299 * p.0[0] as f64 + 0.587 * p.0[1] as f64 + 0.114 * p.0[2] as f64)
        .sum();
    (s / (img.width() * img.height()).max(1) as f64) as f32
}

fn draw_segment(alpha: &mut [f32], w: u32, h: u32, p0: (f32, f32), p1: (f32, f32), half_w: f32) {
    let reach = half_w + 1.5;
    let (x0, x1) = (p0.0.min(p1.0) - reach, p0.0.max(p1.0) + reach);
    let (y0, y1) = (p0.1.min(p1.1) - reach, p0.1.max(p1.1) + reach);
    if x1 < 0.0 || y1 < 0.0 || x0 >= w as f32 || y0 >= h as f32 {
        return;
    }
    let (dx, dy) = (p1.0 - p0.0, p1.1 - p0.1);
    let len2 = (dx * dx + dy * dy).max(1e-6);
    for y in (y0.max(0.0) as u32)..=(y1.min(h as f32 - 1.0) as u32) {
        for x in (x0.max(0.0) as u32)..=(x1.min(w as f32 - 1.0) as u32) {
            let (px, py) = (x as f32 + 0.5 - p0.0, y as f32 + 0.5 - p0.1);
            let t = ((px * dx + py * dy) / len2).clamp(0.0, 1.0);
            let (ex, ey) = (px - t * dx, py - t * dy);
            let d = (ex * ex + ey * ey).sqrt();
            let a = (half_w + 0.5 - d).clamp(0.0, 1.0); // anti-aliased coverage
            let slot = &mut alpha[(y * w + x) as usize];
            *slot = slot.max(a);
        }
    }
}

fn blend_towards(img: &mut RgbImage, alpha: &[f32], target: [f32; 3], strength: f32) {
    for (p, &a) in img.as_mut().chunks_exact_mut(3).zip(alpha) {
        if a > 0.0 {
            for c in 0..3 {
                p[c] = lerp(p[c] as f32, target[c], a * strength)
                    .clamp(0.0, 255.0)
                    .round() as u8;
            }
        }
    }
}

fn multiply_by(img: &mut RgbImage, alpha: &[f32], factor: f32) {
    for (p, &a) in img.as_mut().chunks_exact_mut(3).zip(alpha) {
        if a > 0.0 {
            let k = lerp(1.0, factor, a);
            for v in p.iter_mut() {
                *v = (*v as f32 * k).round() as u8;
            }
        }
    }
}

/// Bilinear sample (clamped at the border) at continuous pixel coordinates.
fn sample_bilinear(img: &RgbImage, x: f32, y: f32) -> [f32; 3] {
    let (w, h) = img.dimensions();
    let (fx, fy) = (
        (x - 0.5).clamp(0.0, w as f32 - 1.0),
        (y - 0.5).clamp(0.0, h as f32 - 1.0),
    );
    let (x0, y0) = (fx as u32, fy as u32); // fx, fy >= 0: truncation is floor
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
    let (tx, ty) = (fx - x0 as f32, fy - y0 as f32);
    let (a, b, c, d) = (
        img.get_pixel(x0, y0).0,
        img.get_pixel(x1, y0).0,
        img.get_pixel(x0, y1).0,
        img.get_pixel(x1, y1).0,
    );
    let mut out = [0.0; 3];
    for k in 0..3 {
        let top = lerp(a[k] as f32, b[k] as f32, tx);
        let bot = lerp(c[k] as f32, d[k] as f32, tx);
        out[k] = lerp(top, bot, ty);
    }
    out
}

/// Bilinear resize (deterministic; no dependency on the `image` crate's filters).
pub fn resize_bilinear(img: &RgbImage, w: u32, h: u32) -> RgbImage {
    if img.dimensions() == (w, h) {
        return img.clone();
    }
    let (sw, sh) = (
        img.width() as f32 / w as f32,
        img.height() as f32 / h as f32,
    );
    RgbImage::from_fn(w, h, |x, y| {
        let p = sample_bilinear(img, (x as f32 + 0.5) * sw, (y as f32 + 0.5) * sh);
        image::Rgb([p[0].round() as u8, p[1].round() as u8, p[2].round() as u8])
    })
}

/// Applies `n` random colour operations (a subset of DRAEM's imgaug list).
fn random_colour_ops(img: &mut RgbImage, rng: &mut Rng, n: usize) {
    for _ in 0..n {
        let op = rng.range_usize(0, 6);
        let a = rng.uniform();
        let hue_shift = rng.range(-0.5, 0.5);
        let lut: Vec<[u8; 3]> = (0..256)
            .map(|v| {
                let x = v as f32 / 255.0;
                let y = match op {
                    0 => detmath::powf(x, 0.5 + 1.5 * a),       // gamma contrast
                    1 => x * (0.8 + 0.4 * a) + (a - 0.5) * 0.3, // multiply and add
                    2 => 1.0 - x,                               // invert
                    3 => (x * (2.0 + 4.0 * a)).floor() / (2.0 + 4.0 * a), // posterize
                    4 => {
                        if x > 0.3 + 0.5 * a {
                            1.0 - x
                        } else {
                            x
                        }
                    } // solarize
                    _ => x,
                };
                let q = (y.clamp(0.0, 1.0) * 255.0).round() as u8;
                [q, q, q]
            })
            .collect();
        if op == 5 {
            hue_rotate(img, hue_shift);
        } else {
            for v in img.as_mut() {
                *v = lut[*v as usize][0];
            }
        }
    }
}

/// Rotates hue by `shift` turns (YIQ rotation: cheap and deterministic).
fn hue_rotate(img: &mut RgbImage, shift: f32) {
    let (s, c) = detmath::sin_cos(shift * std::f32::consts::TAU);
    for p in img.as_mut().chunks_exact_mut(3) {
        let (r, g, b) = (p[0] as f32, p[1] as f32, p[2] as f32);
        let y = 0.299 * r + 0.587 * g + 0.114 * b;
        let i = 0.596 * r - 0.274 * g - 0.322 * b;
        let q = 0.211 * r - 0.523 * g + 0.312 * b;
        let (i2, q2) = (i * c - q * s, i * s + q * c);
        p[0] = (y + 0.956 * i2 + 0.621 * q2).clamp(0.0, 255.0).round() as u8;
        p[1] = (y - 0.272 * i2 - 0.647 * q2).clamp(0.0, 255.0).round() as u8;
        p[2] = (y - 1.106 * i2 + 1.703 * q2).clamp(0.0, 255.0).round() as u8;
    }
}

/// A distorted copy of the image: warp and/or blur, then a colour change.
fn self_distort(img: &RgbImage, rng: &mut Rng) -> RgbImage {
    let (w, h) = img.dimensions();
    let s = (w.min(h) as f32 / 256.0).max(0.25);
    let mut out = img.clone();
    if rng.bernoulli(0.6) {
        // Perlin displacement field.
        let amp = rng.range(3.0, 12.0) * s;
        let freq = rng.range(0.01, 0.05) / s;
        let (nx, ny) = (Perlin::new(rng.next_u64()), Perlin::new(rng.next_u64()));
        out = RgbImage::from_fn(w, h, |x, y| {
            let (fx, fy) = (x as f32 * freq, y as f32 * freq);
            let p = sample_bilinear(
                img,
                x as f32 + 0.5 + amp * nx.noise(fx, fy),
                y as f32 + 0.5 + amp * ny.noise(fx, fy),
            );
            image::Rgb([p[0].round() as u8, p[1].round() as u8, p[2].round() as u8])
        });
    }
    if rng.bernoulli(0.5) {
        let r = (rng.range(1.0, 4.0) * s).round().max(1.0) as u32;
        out = box_blur(&out, r);
    }
    let n = 1 + rng.range_usize(0, 2);
    random_colour_ops(&mut out, rng, n);
    out
}

/// Separable box blur of radius `r` (clamped borders).
fn box_blur(img: &RgbImage, r: u32) -> RgbImage {
    let (w, h) = img.dimensions();
    let pass = |src: &RgbImage, horizontal: bool| {
        RgbImage::from_fn(w, h, |x, y| {
            let mut acc = [0u32; 3];
            let r = r as i64;
            for d in -r..=r {
                let (xx, yy) = if horizontal {
                    ((x as i64 + d).clamp(0, w as i64 - 1) as u32, y)
                } else {
                    (x, (y as i64 + d).clamp(0, h as i64 - 1) as u32)
                };
                let p = src.get_pixel(xx, yy).0;
                for c in 0..3 {
                    acc[c] += p[c] as u32;
                }
            }
            let n = (2 * r + 1) as u32;
            image::Rgb([
                ((acc[0] + n / 2) / n) as u8,
                ((acc[1] + n / 2) / n) as u8,
                ((acc[2] + n / 2) / n) as u8,
            ])
        })
    };
    pass(&pass(img, true), false)
}

/// Pixels where `a` and `b` differ (helper for tests and callers checking the guarantee).
pub fn changed_outside_mask(orig: &RgbImage, out: &RgbImage, mask: &GrayImage) -> usize {
    orig.pixels()
        .zip(out.pixels())
        .zip(mask.pixels())
        .filter(|((a, b), m)| m.0[0] == 0 && a != b)
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(size: u32, seed: u64) -> RgbImage {
        textures::generate(TextureKind::Woven, seed, size)
    }

    #[test]
    fn reproducible_and_seed_dependent() {
        let img = base(64, 1);
        let s = Synthesizer::default();
        for &k in AnomalyKind::all() {
            let a = s.synthesize(&img, Some(k), 5).unwrap();
            let b = s.synthesize(&img, Some(k), 5).unwrap();
            assert_eq!(a.image.as_raw(), b.image.as_raw(), "{k}");
            assert_eq!(a.mask.as_raw(), b.mask.as_raw(), "{k}");
            let c = s.synthesize(&img, Some(k), 6).unwrap();
            assert_ne!(a.mask.as_raw(), c.mask.as_raw(), "{k}");
        }
    }

    #[test]
    fn guarantees_hold_for_all_kinds_and_sizes() {
        let s = Synthesizer::default();
        let mut fallbacks = 0;
        let mut runs = 0;
        for (i, &size) in [64u32, 97, 200].iter().enumerate() {
            for (t, &tk) in TextureKind::all().iter().enumerate() {
                let img = textures::generate(tk, 100 + t as u64, size);
                for &k in AnomalyKind::all() {
                    for seed in 0..2u64 {
                        let r = s.synthesize(&img, Some(k), seed * 31 + i as u64).unwrap();
                        runs += 1;
                        let total = (size * size) as f32;
                        let n = r.mask.pixels().filter(|p| p.0[0] == 255).count();
                        assert!(r.mask.pixels().all(|p| p.0[0] == 0 || p.0[0] == 255));
                        assert!(n > 0);
                        let frac = n as f32 / total;
                        assert!(
                            frac >= s.min_area_fraction && frac <= s.max_area_fraction,
                            "{k} {tk} {frac}"
                        );
                        assert_eq!(changed_outside_mask(&img, &r.image, &r.mask), 0, "{k} {tk}");
                        // Every masked pixel changed by >= threshold (mean abs over channels).
                        for ((a, b), m) in img.pixels().zip(r.image.pixels()).zip(r.mask.pixels()) {
                            if m.0[0] == 255 {
                                let d: i32 =
                                    (0..3).map(|c| (a.0[c] as i32 - b.0[c] as i32).abs()).sum();
                                assert!(d as f32 / 3.0 >= s.change_threshold);
                            }
                        }
                        if r.attempts > s.max_attempts {
                            fallbacks += 1;
                        } else {
                            assert_eq!(r.kind, k);
                        }
                    }
                }
            }
        }
        // The fallback is a safety net, not the normal path.
        assert!(
            fallbacks * 10 < runs,
            "{fallbacks} fallbacks in {runs} runs"
        );
    }

    #[test]
    fn texture_wide_changes_are_large_honest_and_opt_in() {
        assert!(!AnomalyKind::all().contains(&AnomalyKind::TextureWide));
        assert_eq!(
            "texture-wide".parse::<AnomalyKind>(),
            Ok(AnomalyKind::TextureWide)
        );
        let s = Synthesizer::default();
        let (mut runs, mut larger_than_local) = (0, 0);
        for (t, &tk) in TextureKind::all().iter().enumerate() {
            let img = textures::generate(tk, 40 + t as u64, 96);
            for seed in 0..4u64 {
                let r = s
                    .synthesize(&img, Some(AnomalyKind::TextureWide), seed)
                    .unwrap();
                let again = s
                    .synthesize(&img, Some(AnomalyKind::TextureWide), seed)
                    .unwrap();
                assert_eq!(r.image.as_raw(), again.image.as_raw(), "{tk} {seed}");
                assert_eq!(changed_outside_mask(&img, &r.image, &r.mask), 0, "{tk}");
                let frac = r.mask.pixels().filter(|p| p.0[0] == 255).count() as f32 / (96.0 * 96.0);
                runs += 1;
                if r.kind == AnomalyKind::TextureWide {
                    assert!(frac >= TEXTURE_WIDE_MIN_AREA, "{tk} {seed}: {frac}");
                    if frac > s.max_area_fraction {
                        larger_than_local += 1;
                    }
                }
            }
        }
        // Most draws are accepted as texture-wide (not the fallback spot) and exceed what any
        // local kind may cover.
        assert!(
            larger_than_local * 4 >= runs * 3,
            "{larger_than_local} of {runs}"
        );
    }

    #[test]
    fn flat_image_and_custom_bounds() {
        // A flat grey image: cut-paste can only change it through its colour jitter.
        let img = RgbImage::from_pixel(50, 40, image::Rgb([128, 128, 128]));
        let mut s = Synthesizer {
            min_area_fraction: 0.05,
            max_area_fraction: 0.1,
            ..Default::default()
        };
        for attempts in [24, 0] {
            // max_attempts = 0 goes straight to the guaranteed fallback.
            s.max_attempts = attempts;
            let r = s.synthesize(&img, Some(AnomalyKind::CutPaste), 3).unwrap();
            let n = r.mask.pixels().filter(|p| p.0[0] == 255).count() as f32 / 2000.0;
            assert!((0.05..=0.1).contains(&n), "{n}");
            assert_eq!(changed_outside_mask(&img, &r.image, &r.mask), 0);
            if attempts == 0 {
                assert_eq!(r.kind, AnomalyKind::Spot);
            }
        }
        let bad = Synthesizer {
            min_area_fraction: 0.5,
            max_area_fraction: 0.1,
            ..Default::default()
        };
        assert!(bad.synthesize(&img, None, 0).is_err());
    }

    #[test]
    fn extreme_sizes() {
        let s = Synthesizer::default();
        for (w, h) in [(4u32, 4u32), (16, 9), (1024, 1024)] {
            let img = textures::generate_rect(TextureKind::Speckle, 3, w, h);
            let kinds: &[AnomalyKind] = if w == 1024 {
                &[AnomalyKind::Spot, AnomalyKind::Scratch]
            } else {
                AnomalyKind::all()
            };
            for &k in kinds {
                for seed in 0..3 {
                    let r = s.synthesize(&img, Some(k), seed).unwrap();
                    let n = r.mask.as_raw().iter().filter(|&&v| v == 255).count() as f32;
                    let frac = n / (w * h) as f32;
                    assert!(
                        n > 0.0 && frac <= s.max_area_fraction && frac >= s.min_area_fraction,
                        "{w}x{h} {k} {frac}"
                    );
                    assert_eq!(changed_outside_mask(&img, &r.image, &r.mask), 0);
                }
            }
        }
        assert!(s.synthesize(&RgbImage::new(3, 3), None, 0).is_err());
    }

    #[test]
    fn external_source_and_large_image() {
        let img = base(300, 2);
        let src = textures::generate_rect(TextureKind::Tiles, 9, 120, 80);
        let s = Synthesizer::default();
        let r = s
            .synthesize_with_source(&img, &src, Some(AnomalyKind::Draem), 4)
            .unwrap();
        assert_eq!(changed_outside_mask(&img, &r.image, &r.mask), 0);
        assert_eq!(r.image.dimensions(), (300, 300));
        assert!("cut-paste".parse::<AnomalyKind>().is_ok());
    }
}
