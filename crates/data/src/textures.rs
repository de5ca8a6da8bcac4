//! Procedural "normal" textures (woven fabric, wood, brushed metal, tiles, ...), used as
//! training/evaluation material when no real images are at hand.
//!
//! Every kind varies colour, scale, orientation and noise with the seed but keeps the
//! structure that identifies the class. Feature sizes scale with the image size (reference 256
//! px), so a 512 px texture looks like the 256 px one at twice the resolution.

use std::fmt;
use std::str::FromStr;

use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::detmath::{self, lerp, smoothstep};
use crate::perlin::{fast_floor, Perlin};
use crate::rng::{hash_str, Rng};

/// The texture classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum TextureKind {
    /// Woven fabric: warp/weft threads in plain or twill weave.
    Woven,
    /// Wood grain: growth rings, fibre streaks and pores.
    Wood,
    /// Brushed metal: long anisotropic streaks on a grey sheen.
    BrushedMetal,
    /// Ceramic tiles (square or running bond) with grout and bevels.
    Tiles,
    /// Speckled surface (terrazzo / granite-like flecks on a mottled base).
    Speckle,
    /// Carpet: dense tufts/loops with per-tuft shade.
    Carpet,
    /// Pebbled leather: cellular grain with dark creases.
    Leather,
}

impl TextureKind {
    /// All kinds, in a fixed order.
    pub fn all() -> &'static [TextureKind] {
        use TextureKind::*;
        &[Woven, Wood, BrushedMetal, Tiles, Speckle, Carpet, Leather]
    }

    /// Class name (snake_case), as used in dataset folders.
    pub fn name(self) -> &'static str {
        match self {
            TextureKind::Woven => "woven_fabric",
            TextureKind::Wood => "wood",
            TextureKind::BrushedMetal => "brushed_metal",
            TextureKind::Tiles => "tiles",
            TextureKind::Speckle => "speckled",
            TextureKind::Carpet => "carpet",
            TextureKind::Leather => "leather",
        }
    }
}

impl fmt::Display for TextureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for TextureKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_lowercase().replace('-', "_");
        let alias = match t.as_str() {
            "woven" | "fabric" => Some(TextureKind::Woven),
            "metal" | "brushedmetal" => Some(TextureKind::BrushedMetal),
            "tile" => Some(TextureKind::Tiles),
            "speckle" => Some(TextureKind::Speckle),
            _ => None,
        };
        alias
            .or_else(|| TextureKind::all().iter().copied().find(|k| k.name() == t))
            .ok_or_else(|| {
                let names: Vec<&str> = TextureKind::all().iter().map(|k| k.name()).collect();
                format!(
                    "unknown texture kind {s:?} (expected one of {})",
                    names.join(", ")
                )
            })
    }
}

impl From<TextureKind> for String {
    fn from(k: TextureKind) -> String {
        k.name().to_string()
    }
}

impl TryFrom<String> for TextureKind {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

/// A square `size` x `size` texture of `kind` for `seed`.
pub fn generate(kind: TextureKind, seed: u64, size: u32) -> RgbImage {
    generate_rect(kind, seed, size, size)
}

/// A `width` x `height` texture of `kind` for `seed`.
pub fn generate_rect(kind: TextureKind, seed: u64, width: u32, height: u32) -> RgbImage {
    // The kind name salts the seed, so two kinds with the same seed are unrelated.
    let mut rng = Rng::derive(seed, hash_str(kind.name()));
    let mut c = Canvas::new(width, height);
    match kind {
        TextureKind::Woven => woven(&mut c, &mut rng),
        TextureKind::Wood => wood(&mut c, &mut rng),
        TextureKind::BrushedMetal => brushed_metal(&mut c, &mut rng),
        TextureKind::Tiles => tiles(&mut c, &mut rng),
        TextureKind::Speckle => speckle(&mut c, &mut rng),
        TextureKind::Carpet => carpet(&mut c, &mut rng),
        TextureKind::Leather => leather(&mut c, &mut rng),
    }
    let grain = rng.range(0.004, 0.012);
    c.finish(grain, rng.next_u64())
}

/// Float RGB working buffer.
struct Canvas {
    w: u32,
    h: u32,
    /// Feature scale relative to a 256 px image.
    s: f32,
    px: Vec<[f32; 3]>,
}

impl Canvas {
    fn new(w: u32, h: u32) -> Self {
        let s = (w.min(h) as f32 / 256.0).max(0.25);
        Canvas {
            w,
            h,
            s,
            px: vec![[0.0; 3]; (w as usize) * (h as usize)],
        }
    }

    /// Calls `f(x, y)` for every pixel and stores the colour.
    fn fill(&mut self, mut f: impl FnMut(f32, f32) -> [f32; 3]) {
        let w = self.w as usize;
        for (i, p) in self.px.iter_mut().enumerate() {
            *p = f((i % w) as f32 + 0.5, (i / w) as f32 + 0.5);
        }
    }

    /// Quantises with a little sensor grain (cheap hash noise, deterministic).
    fn finish(self, grain: f32, seed: u64) -> RgbImage {
        let mut out = Vec::with_capacity(self.px.len() * 3);
        let mut st = seed;
        for p in &self.px {
            let r = crate::rng::splitmix64(&mut st);
            // Sum of two uniforms: triangular noise with std grain.
            let n1 = ((r & 0xffff) as f32 + ((r >> 16) & 0xffff) as f32) / 65535.0 - 1.0;
            for (c, &v) in p.iter().enumerate() {
                let k = ((r >> (32 + 10 * c as u64)) & 0x3ff) as f32 / 1023.0 - 0.5;
                let v = v + grain * 2.45 * (0.6 * n1 + 0.8 * k);
                out.push((v.clamp(0.0, 1.0) * 255.0 + 0.5) as u8);
            }
        }
        RgbImage::from_raw(self.w, self.h, out).expect("buffer size matches")
    }
}

/// HSV (all in [0,1]) to RGB.
pub(crate) fn hsv(h: f32, s: f32, v: f32) -> [f32; 3] {
    let h = (h - h.floor()) * 6.0;
    let i = h.floor();
    let f = h - i;
    let (p, q, t) = (v * (1.0 - s), v * (1.0 - s * f), v * (1.0 - s * (1.0 - f)));
    match i as i32 {
        0 => [v, t, p],
        1 => [q, v, p],
        2 => [p, v, t],
        3 => [p, q, v],
        4 => [t, p, v],
        _ => [v, p, q],
    }
}

fn scale3(c: [f32; 3], k: f32) -> [f32; 3] {
    [c[0] * k, c[1] * k, c[2] * k]
}

fn mix3(a: [f32; 3], b: [f32; 3], t: f32) -> [f32; 3] {
    [
        lerp(a[0], b[0], t),
        lerp(a[1], b[1], t),
        lerp(a[2], b[2], t),
    ]
}

fn add3(c: [f32; 3], d: f32) -> [f32; 3] {
    [c[0] + d, c[1] + d, c[2] + d]
}

/// Uniform [0,1) from a lattice cell (per-thread / per-tile randomness).
fn cell_rand(seed: u64, i: i64, j: i64) -> f32 {
    (cell_hash(seed, i, j) >> 40) as f32 / (1u64 << 24) as f32
}

/// Cheap lattice hash (MurmurHash3 finaliser); hot in the Worley loops.
#[inline]
fn cell_hash(seed: u64, i: i64, j: i64) -> u64 {
    let mut h = seed
        ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (j as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    h ^= h >> 33;
    h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    h ^= h >> 33;
    h = h.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    h ^ (h >> 33)
}

/// Rotation of pixel coordinates about the image centre.
struct Rot {
    c: f32,
    s: f32,
    cx: f32,
    cy: f32,
}

impl Rot {
    fn new(angle_deg: f32, w: u32, h: u32) -> Self {
        let (s, c) = detmath::sin_cos(angle_deg.to_radians());
        Rot {
            c,
            s,
            cx: w as f32 * 0.5,
            cy: h as f32 * 0.5,
        }
    }
    #[inline]
    fn apply(&self, x: f32, y: f32) -> (f32, f32) {
        let (dx, dy) = (x - self.cx, y - self.cy);
        (self.c * dx - self.s * dy, self.s * dx + self.c * dy)
    }
}

fn woven(c: &mut Canvas, rng: &mut Rng) {
    let s = c.s;
    let period = rng.range(5.0, 11.0) * s;
    let angle = if rng.bernoulli(0.2) {
        rng.range(35.0, 55.0)
    } else {
        rng.range(-8.0, 8.0)
    };
    let rot = Rot::new(angle, c.w, c.h);
    // 0 = plain weave, otherwise twill with repeat n.
    let twill = if rng.bernoulli(0.5) {
        0
    } else {
        rng.range_usize(3, 5) as i64
    };
    let hue = rng.uniform();
    let sat = rng.range(0.05, 0.6);
    let val = rng.range(0.35, 0.85);
    let warp = hsv(hue, sat, val);
    let weft = if rng.bernoulli(0.5) {
        warp
    } else {
        hsv(
            hue + rng.range(-0.08, 0.08),
            sat * rng.range(0.5, 1.2),
            val * rng.range(0.75, 1.1),
        )
    };
    let gap = scale3(warp, 0.35);
    let noise = Perlin::new(rng.next_u64());
    let low = Perlin::new(rng.next_u64());
    let tseed = rng.next_u64();
    let thread_var = rng.range(0.03, 0.1);
    let low_amp = rng.range(0.02, 0.06);
    c.fill(|x, y| {
        let (u, v) = rot.apply(x, y);
        let (fu, fv) = (u / period, v / period);
        let (i, j) = (fast_floor(fu) as i64, fast_floor(fv) as i64);
        let (tu, tv) = (fu - i as f32, fv - j as f32);
        let warp_on_top = if twill == 0 {
            (i + j).rem_euclid(2) == 0
        } else {
            (i + j).rem_euclid(twill) == 0
        };
        // Coordinates across / along the visible thread.
        let (across, along, idx, col, fib) = if warp_on_top {
            (
                tu,
                tv,
                i,
                warp,
                noise.noise(u * 1.7 / period, v * 0.25 / period),
            )
        } else {
            (
                tv,
                tu,
                j + 1_000_000,
                weft,
                noise.noise(u * 0.25 / period + 50.0, v * 1.7 / period),
            )
        };
        let round = (4.0 * across * (1.0 - across)).sqrt(); // cylinder-like thread profile
        let dip = 0.78 + 0.22 * (4.0 * along * (1.0 - along)).sqrt(); // thread dives at the ends
        let edge = smoothstep(0.0, 0.12, across) * smoothstep(0.0, 0.12, 1.0 - across);
        let tvar = 1.0 + thread_var * (cell_rand(tseed, idx, 0) - 0.5) * 2.0;
        let shade = (0.55 + 0.45 * round) * dip * tvar * (1.0 + 0.12 * fib);
        let base = mix3(gap, scale3(col, shade), edge);
        add3(
            base,
            low_amp * low.fbm(x * 0.012 / s, y * 0.012 / s, 3, 2.0, 0.5),
        )
    });
}

fn wood(c: &mut Canvas, rng: &mut Rng) {
    let s = c.s;
    let angle = if rng.bernoulli(0.5) {
        rng.range(-10.0, 10.0)
    } else {
        90.0 + rng.range(-10.0, 10.0)
    };
    let rot = Rot::new(angle, c.w, c.h);
    let spacing = rng.range(7.0, 18.0) * s;
    let hue = rng.range(0.04, 0.11);
    let light = hsv(hue, rng.range(0.35, 0.65), rng.range(0.6, 0.92));
    let dark = hsv(hue - 0.01, rng.range(0.55, 0.8), rng.range(0.3, 0.55));
    let warp_amp = rng.range(0.6, 2.5);
    let slope = rng.range(-0.03, 0.03);
    let n_warp = Perlin::new(rng.next_u64());
    let n_grain = Perlin::new(rng.next_u64());
    let n_pore = Perlin::new(rng.next_u64());
    let ring_sharp = rng.range(0.55, 0.8);
    let phase = rng.range(0.0, 10.0);
    c.fill(|x, y| {
        let (u, v) = rot.apply(x, y);
        // Growth rings: stripes across the grain, bent by low-frequency noise.
        let bend = n_warp.fbm(u * 0.004 / s, v * 0.012 / s, 3, 2.0, 0.5) * warp_amp;
        let t = (v + slope * u) / spacing + bend + phase;
        let ring = t - fast_floor(t) as f32;
        // Early wood fades slowly into a darker, sharper late-wood band.
        let late = smoothstep(ring_sharp, 0.93, ring) * (1.0 - smoothstep(0.95, 1.0, ring));
        let grain = n_grain.fbm(u * 0.01 / s, v * 0.6 / s, 3, 2.0, 0.5);
        let pore = smoothstep(0.45, 0.75, n_pore.noise(u * 0.05 / s, v * 1.1 / s));
        let amount = (0.75 * late + 0.18 * grain + 0.25 * pore).clamp(0.0, 1.0);
        mix3(light, dark, amount)
    });
}

fn brushed_metal(c: &mut Canvas, rng: &mut Rng) {
    let s = c.s;
    let angle = if rng.bernoulli(0.5) {
        rng.range(-4.0, 4.0)
    } else {
        90.0 + rng.range(-4.0, 4.0)
    };
    let rot = Rot::new(angle, c.w, c.h);
    let base = hsv(rng.uniform(), rng.range(0.0, 0.07), rng.range(0.45, 0.8));
    let streak_amp = rng.range(0.05, 0.12);
    let fine_amp = rng.range(0.03, 0.07);
    let sheen_amp = rng.range(0.04, 0.12);
    let n_streak = Perlin::new(rng.next_u64());
    let n_fine = Perlin::new(rng.next_u64());
    let n_sheen = Perlin::new(rng.next_u64());
    let stretch = rng.range(0.002, 0.006);
    c.fill(|x, y| {
        let (u, v) = rot.apply(x, y);
        // Brushing: noise that barely changes along u and changes fast across v.
        let streak = n_streak.fbm(u * stretch / s, v * 0.35 / s, 3, 2.2, 0.55);
        let fine = n_fine.noise(u * 0.03 / s, v * 1.6 / s);
        // Broad highlight bands, as from a diffuse light on an anisotropic surface.
        let sheen = n_sheen.fbm(u * 0.004 / s + v * 0.002 / s, v * 0.01 / s, 2, 2.0, 0.5);
        add3(
            base,
            streak_amp * streak + fine_amp * fine + sheen_amp * sheen,
        )
    });
}

fn tiles(c: &mut Canvas, rng: &mut Rng) {
    let s = c.s;
    let tile = rng.range(26.0, 70.0) * s;
    let aspect = if rng.bernoulli(0.3) {
        rng.range(1.6, 2.2)
    } else {
        1.0
    };
    let bond = aspect > 1.0 || rng.bernoulli(0.15);
    let grout_w = rng.range(1.5, 4.0) * s;
    let bevel = rng.range(1.5, 4.0) * s;
    let rot = Rot::new(rng.range(-3.0, 3.0), c.w, c.h);
    let base = hsv(rng.uniform(), rng.range(0.03, 0.5), rng.range(0.45, 0.9));
    let grout = if rng.bernoulli(0.6) {
        hsv(0.1, 0.05, rng.range(0.7, 0.9))
    } else {
        hsv(0.1, 0.05, rng.range(0.2, 0.4))
    };
    let tile_var = rng.range(0.02, 0.08);
    let mottle_amp = rng.range(0.02, 0.06);
    let n_mottle = Perlin::new(rng.next_u64());
    let tseed = rng.next_u64();
    let (ox, oy) = (rng.range(0.0, tile), rng.range(0.0, tile));
    c.fill(|x, y| {
        let (u, v) = rot.apply(x, y);
        let (tw, th) = (tile * aspect, tile);
        let vv = v + oy;
        let j = fast_floor(vv / th) as f32;
        let uu = u
            + ox
            + if bond && (j as i64).rem_euclid(2) == 1 {
                tw * 0.5
            } else {
                0.0
            };
        let i = fast_floor(uu / tw) as f32;
        let (lu, lv) = (uu - i * tw, vv - j * th); // position inside the tile, px
        let d_edge = lu.min(tw - lu).min(lv).min(th - lv);
        let g = smoothstep(grout_w * 0.5 - 0.6, grout_w * 0.5 + 0.6, d_edge);
        let r = cell_rand(tseed, i as i64, j as i64);
        let mut col = scale3(base, 1.0 + tile_var * (r - 0.5) * 2.0);
        col = add3(
            col,
            mottle_amp * n_mottle.fbm(x * 0.03 / s, y * 0.03 / s, 3, 2.0, 0.5),
        );
        // Bevel: lit from the top-left, shadow at the bottom-right.
        let lit = 1.0 - smoothstep(grout_w * 0.5, grout_w * 0.5 + bevel, lu.min(lv));
        let shadow = 1.0 - smoothstep(grout_w * 0.5, grout_w * 0.5 + bevel, (tw - lu).min(th - lv));
        col = add3(col, 0.08 * lit - 0.1 * shadow);
        mix3(grout, col, g)
    });
}

fn speckle(c: &mut Canvas, rng: &mut Rng) {
    let s = c.s;
    let base = hsv(rng.uniform(), rng.range(0.0, 0.25), rng.range(0.55, 0.9));
    let mottle_amp = rng.range(0.03, 0.08);
    let n_mottle = Perlin::new(rng.next_u64());
    c.fill(|x, y| {
        add3(
            base,
            mottle_amp * n_mottle.fbm(x * 0.02 / s, y * 0.02 / s, 4, 2.0, 0.5),
        )
    });
    // Two or three fleck colours, mostly darker than the base.
    let ncol = rng.range_usize(2, 4);
    let flecks: Vec<[f32; 3]> = (0..ncol)
        .map(|_| {
            if rng.bernoulli(0.75) {
                hsv(rng.uniform(), rng.range(0.0, 0.5), rng.range(0.05, 0.45))
            } else {
                hsv(rng.uniform(), rng.range(0.0, 0.3), rng.range(0.85, 1.0))
            }
        })
        .collect();
    let density = rng.range(0.003, 0.015);
    let (rmin, rmax) = (rng.range(0.5, 0.9) * s, rng.range(1.2, 2.8) * s);
    // Fleck size scales with s, so their count per pixel scales with 1/s^2.
    let n = ((c.w * c.h) as f32 / (s * s) * density) as usize;
    let (w, h) = (c.w as i64, c.h as i64);
    for _ in 0..n {
        let (cx, cy) = (rng.range(0.0, c.w as f32), rng.range(0.0, c.h as f32));
        let r = rng.range(rmin, rmax);
        let col = flecks[rng.range_usize(0, ncol)];
        let op = rng.range(0.6, 1.0);
        let (x0, x1) = (
            ((cx - r - 1.0).floor() as i64).max(0),
            ((cx + r + 1.0).ceil() as i64).min(w - 1),
        );
        let (y0, y1) = (
            ((cy - r - 1.0).floor() as i64).max(0),
            ((cy + r + 1.0).ceil() as i64).min(h - 1),
        );
        for yy in y0..=y1 {
            for xx in x0..=x1 {
                let (dx, dy) = (xx as f32 + 0.5 - cx, yy as f32 + 0.5 - cy);
                let a = (r + 0.5 - (dx * dx + dy * dy).sqrt()).clamp(0.0, 1.0) * op;
                if a > 0.0 {
                    let p = &mut c.px[(yy * w + xx) as usize];
                    *p = mix3(*p, col, a);
                }
            }
        }
    }
}

/// Nearest and second-nearest feature-point distances on a jittered grid (Worley noise), plus
/// the cell of the nearest point.
fn worley(seed: u64, x: f32, y: f32, cell: f32, jitter: f32) -> (f32, f32, i64, i64) {
    let (gx, gy) = (fast_floor(x / cell) as i64, fast_floor(y / cell) as i64);
    let (mut f1, mut f2, mut best) = (f32::MAX, f32::MAX, (0, 0));
    for j in gy - 1..=gy + 1 {
        for i in gx - 1..=gx + 1 {
            let hsh = cell_hash(seed, i, j);
            let (ru, rv) = (
                (hsh >> 40) as f32 / 16_777_216.0,
                (hsh & 0xff_ffff) as f32 / 16_777_216.0,
            );
            let px = (i as f32 + 0.5 + jitter * (ru - 0.5)) * cell;
            let py = (j as f32 + 0.5 + jitter * (rv - 0.5)) * cell;
            let d = (px - x) * (px - x) + (py - y) * (py - y); // squared; sqrt at the end
            if d < f1 {
                f2 = f1;
                f1 = d;
                best = (i, j);
            } else if d < f2 {
                f2 = d;
            }
        }
    }
    (f1.sqrt(), f2.sqrt(), best.0, best.1)
}

fn carpet(c: &mut Canvas, rng: &mut Rng) {
    let s = c.s;
    let cell = rng.range(3.0, 6.0) * s;
    let base = hsv(rng.uniform(), rng.range(0.15, 0.7), rng.range(0.3, 0.7));
    let tuft_var = rng.range(0.1, 0.25);
    let low_amp = rng.range(0.03, 0.07);
    let cseed = rng.next_u64();
    let n_low = Perlin::new(rng.next_u64());
    let n_fib = Perlin::new(rng.next_u64());
    let rot = Rot::new(rng.range(0.0, 90.0), c.w, c.h);
    c.fill(|x, y| {
        let (u, v) = rot.apply(x, y);
        let (f1, _, i, j) = worley(cseed, u, v, cell, 0.9);
        let tuft = 1.0 - (f1 / (cell * 0.85)).min(1.0);
        let r = cell_rand(cseed ^ 77, i, j);
        let shade = (0.55 + 0.45 * tuft) * (1.0 + tuft_var * (r - 0.5) * 2.0)
            + 0.08 * n_fib.noise(u * 0.7 / s, v * 0.7 / s);
        add3(
            scale3(base, shade),
            low_amp * n_low.fbm(x * 0.015 / s, y * 0.015 / s, 3, 2.0, 0.5),
        )
    });
}

fn leather(c: &mut Canvas, rng: &mut Rng) {
    let s = c.s;
    let cell = rng.range(5.0, 12.0) * s;
    let base = if rng.bernoulli(0.2) {
        hsv(rng.uniform(), rng.range(0.3, 0.7), rng.range(0.2, 0.5)) // dyed
    } else {
        hsv(
            rng.range(0.02, 0.1),
            rng.range(0.3, 0.75),
            rng.range(0.12, 0.6),
        ) // browns / tan / black
    };
    let crease_w = rng.range(0.08, 0.2) * cell;
    let crease_depth = rng.range(0.3, 0.55);
    let cseed = rng.next_u64();
    let n_low = Perlin::new(rng.next_u64());
    let n_warp = Perlin::new(rng.next_u64());
    let low_amp = rng.range(0.02, 0.05);
    c.fill(|x, y| {
        // Domain warp so the cells are irregular pebbles rather than a jittered grid.
        let wx = x + 2.0 * s * n_warp.noise(x * 0.05 / s, y * 0.05 / s);
        let wy = y + 2.0 * s * n_warp.noise(x * 0.05 / s + 31.0, y * 0.05 / s);
        let (f1, f2, _, _) = worley(cseed, wx, wy, cell, 1.0);
        let crease = smoothstep(0.0, crease_w, f2 - f1);
        let bump = 1.0 - (f1 / cell).min(1.0);
        let shade = (0.8 + 0.25 * bump) * (1.0 - crease_depth + crease_depth * crease);
        add3(
            scale3(base, shade),
            low_amp * n_low.fbm(x * 0.02 / s, y * 0.02 / s, 3, 2.0, 0.5),
        )
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for &k in TextureKind::all() {
            assert_eq!(k.name().parse::<TextureKind>().unwrap(), k);
        }
        assert!("plaid".parse::<TextureKind>().is_err());
        assert_eq!(
            "Brushed-Metal".parse::<TextureKind>().unwrap(),
            TextureKind::BrushedMetal
        );
    }

    #[test]
    fn reproducible_and_seed_dependent() {
        for &k in TextureKind::all() {
            let a = generate(k, 11, 64);
            assert_eq!(a.as_raw(), generate(k, 11, 64).as_raw(), "{k}");
            assert_ne!(a.as_raw(), generate(k, 12, 64).as_raw(), "{k}");
            // Not a flat image: some spatial contrast.
            let lum: Vec<f32> = a
                .pixels()
                .map(|p| p.0.iter().map(|&v| v as f32).sum::<f32>() / 3.0)
                .collect();
            let m = lum.iter().sum::<f32>() / lum.len() as f32;
            let sd = (lum.iter().map(|v| (v - m) * (v - m)).sum::<f32>() / lum.len() as f32).sqrt();
            assert!(sd > 3.0, "{k}: std {sd}");
        }
        let r = generate_rect(TextureKind::Wood, 1, 40, 24);
        assert_eq!(r.dimensions(), (40, 24));
    }
}
