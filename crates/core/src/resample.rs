//! Antialiased bicubic resampling exactly as Pillow does it (`Image.resize(BICUBIC)`), which is also
//! what PyTorch's `F.interpolate(mode="bicubic", antialias=True)` computes: Keys cubic with a = −0.5,
//! support widened by the scale when shrinking, taps outside the input dropped, weights renormalised.
//! Used for the image pre-processing (uint8, Pillow's fixed-point path) and the positional-embedding
//! resize (f32).

/// Keys cubic convolution kernel with a = −0.5 (Pillow's `bicubic_filter`).
fn bicubic(x: f64) -> f64 {
    const A: f64 = -0.5;
    let x = x.abs();
    if x < 1.0 {
        ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        (((x - 5.0) * x + 8.0) * x - 4.0) * A
    } else {
        0.0
    }
}

/// The taps of one output sample: first input index and normalised weights.
#[derive(Clone, Debug)]
pub struct Taps {
    pub start: usize,
    pub weights: Vec<f64>,
}

/// Pillow's `precompute_coeffs` for the bicubic filter (support 2), mapping `in_size` → `out_size`.
pub fn bicubic_taps(in_size: usize, out_size: usize) -> Vec<Taps> {
    let scale = in_size as f64 / out_size as f64;
    let filter_scale = scale.max(1.0);
    let support = 2.0 * filter_scale;
    (0..out_size)
        .map(|xx| {
            let center = (xx as f64 + 0.5) * scale;
            // C's (int) cast truncates toward zero; both bounds are then clamped to the input.
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64)
                .min(in_size as i64)
                .max(xmin as i64) as usize;
            let mut weights: Vec<f64> = (xmin..xmax)
                .map(|x| bicubic((x as f64 - center + 0.5) / filter_scale))
                .collect();
            let total: f64 = weights.iter().sum();
            if total != 0.0 {
                weights.iter_mut().for_each(|w| *w /= total);
            }
            Taps {
                start: xmin,
                weights,
            }
        })
        .collect()
}

const PRECISION_BITS: u32 = 32 - 8 - 2;

/// Pillow's fixed-point coefficients for 8-bit images (`normalize_coeffs_8bpc`).
fn fixed_point(taps: &[Taps]) -> Vec<(usize, Vec<i32>)> {
    taps.iter()
        .map(|t| {
            let k = t
                .weights
                .iter()
                .map(|&w| {
                    let v = w * (1u32 << PRECISION_BITS) as f64;
                    if w < 0.0 {
                        (v - 0.5) as i32
                    } else {
                        (v + 0.5) as i32
                    }
                })
                .collect();
            (t.start, k)
        })
        .collect()
}

fn clip8(acc: i32) -> u8 {
    (acc >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Resizes an interleaved 8-bit image (`channels` per pixel, row-major HWC) to `out_w × out_h`
/// bit-exactly like Pillow: a horizontal pass then a vertical pass, each rounded to uint8.
pub fn resize_u8(
    src: &[u8],
    w: usize,
    h: usize,
    channels: usize,
    out_w: usize,
    out_h: usize,
) -> Vec<u8> {
    assert_eq!(
        src.len(),
        w * h * channels,
        "resize_u8: buffer does not match its size"
    );
    let mut cur = src.to_vec();
    let mut cur_w = w;
    if out_w != w {
        let taps = fixed_point(&bicubic_taps(w, out_w));
        let mut out = vec![0u8; out_w * h * channels];
        for y in 0..h {
            let row = &cur[y * w * channels..(y + 1) * w * channels];
            for (xx, (start, k)) in taps.iter().enumerate() {
                for c in 0..channels {
                    let mut acc: i32 = 1 << (PRECISION_BITS - 1);
                    for (i, &kw) in k.iter().enumerate() {
                        acc += row[(start + i) * channels + c] as i32 * kw;
                    }
                    out[(y * out_w + xx) * channels + c] = clip8(acc);
                }
            }
        }
        cur = out;
        cur_w = out_w;
    }
    if out_h != h {
        let taps = fixed_point(&bicubic_taps(h, out_h));
        let stride = cur_w * channels;
        let mut out = vec![0u8; out_h * stride];
        for (yy, (start, k)) in taps.iter().enumerate() {
            for x in 0..stride {
                let mut acc: i32 = 1 << (PRECISION_BITS - 1);
                for (i, &kw) in k.iter().enumerate() {
                    acc += cur[(start + i) * stride + x] as i32 * kw;
                }
                out[yy * stride + x] = clip8(acc);
            }
        }
        cur = out;
    }
    cur
}

/// Resizes `channels` planes of `h × w` f32 values (planar, row-major) to `out_h × out_w`
/// (separable, f64 weights, as PyTorch's antialiased bicubic).
pub fn resize_planar_f32(
    src: &[f32],
    channels: usize,
    h: usize,
    w: usize,
    out_h: usize,
    out_w: usize,
) -> Vec<f32> {
    assert_eq!(
        src.len(),
        channels * h * w,
        "resize_planar_f32: buffer does not match its size"
    );
    let tx = bicubic_taps(w, out_w);
    let ty = bicubic_taps(h, out_h);
    let mut out = vec![0f32; channels * out_h * out_w];
    let mut tmp = vec![0f64; h * out_w];
    for c in 0..channels {
        let plane = &src[c * h * w..(c + 1) * h * w];
        for y in 0..h {
            for (xx, t) in tx.iter().enumerate() {
                tmp[y * out_w + xx] = t
                    .weights
                    .iter()
                    .enumerate()
                    .map(|(i, &k)| plane[y * w + t.start + i] as f64 * k)
                    .sum();
            }
        }
        for (yy, t) in ty.iter().enumerate() {
            for xx in 0..out_w {
                let v: f64 = t
                    .weights
                    .iter()
                    .enumerate()
                    .map(|(i, &k)| tmp[(t.start + i) * out_w + xx] * k)
                    .sum();
                out[c * out_h * out_w + yy * out_w + xx] = v as f32;
            }
        }
    }
    out
}

/// Bilinear resize of one f32 plane with `align_corners=False` (half-pixel centres, edge clamped),
/// used to bring the model-size map back to the image's own size.
pub fn resize_bilinear_f32(
    src: &[f32],
    w: usize,
    h: usize,
    out_w: usize,
    out_h: usize,
) -> Vec<f32> {
    assert_eq!(
        src.len(),
        w * h,
        "resize_bilinear_f32: buffer does not match its size"
    );
    let axis = |n: usize, out: usize| -> Vec<(usize, usize, f32)> {
        (0..out)
            .map(|o| {
                let s = ((o as f64 + 0.5) * n as f64 / out as f64 - 0.5).max(0.0);
                let i0 = (s.floor() as usize).min(n - 1);
                let i1 = (i0 + 1).min(n - 1);
                (i0, i1, (s - i0 as f64) as f32)
            })
            .collect()
    };
    let xs = axis(w, out_w);
    let ys = axis(h, out_h);
    let mut out = Vec::with_capacity(out_w * out_h);
    for &(y0, y1, fy) in &ys {
        for &(x0, x1, fx) in &xs {
            let top = src[y0 * w + x0] * (1.0 - fx) + src[y0 * w + x1] * fx;
            let bottom = src[y1 * w + x0] * (1.0 - fx) + src[y1 * w + x1] * fx;
            out.push(top * (1.0 - fy) + bottom * fy);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taps_sum_to_one_and_stay_inside() {
        for (a, b) in [(24, 37), (37, 24), (600, 518), (7, 5), (5, 5), (1, 9)] {
            for t in bicubic_taps(a, b) {
                let s: f64 = t.weights.iter().sum();
                assert!((s - 1.0).abs() < 1e-12, "{a}->{b}: weights sum to {s}");
                assert!(t.start + t.weights.len() <= a);
            }
        }
    }

    #[test]
    fn same_size_is_identity() {
        // At scale 1 the cubic kernel is 1 at the centre and 0 at the other integer taps.
        let src: Vec<f32> = (0..30).map(|i| (i as f32 * 0.37).sin()).collect();
        let out = resize_planar_f32(&src, 2, 3, 5, 3, 5);
        for (a, b) in src.iter().zip(&out) {
            assert!((a - b).abs() < 1e-6);
        }
    }

    #[test]
    fn constant_image_stays_constant() {
        let src = vec![77u8; 13 * 7 * 3];
        assert!(resize_u8(&src, 13, 7, 3, 29, 4).iter().all(|&v| v == 77));
    }
}
