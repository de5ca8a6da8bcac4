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
/// Pillow's rounding bias: every fixed-point sum starts from one half.
const ROUNDING: i32 = 1 << (PRECISION_BITS - 1);

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
    if [w, h, channels, out_w, out_h].contains(&0) {
        // Nothing to sample from, or nothing to fill (each sum would be its rounding bias alone).
        return vec![0; out_w * out_h * channels];
    }
    let wide = if out_w == w {
        None
    } else {
        let taps = fixed_point(&bicubic_taps(w, out_w));
        Some(horizontal_pass(src, w, h, channels, &taps))
    };
    let cur = wide.as_deref().unwrap_or(src);
    if out_h == h {
        return wide.unwrap_or_else(|| src.to_vec());
    }
    let stride = out_w * channels;
    let taps = fixed_point(&bicubic_taps(h, out_h));
    let mut out = vec![0u8; out_h * stride];
    // Row by row: each input row is added into one accumulator row, a sequential (vectorised) pass.
    let mut acc = vec![0i32; stride];
    for ((start, k), out_row) in taps.iter().zip(out.chunks_exact_mut(stride)) {
        acc.fill(ROUNDING);
        for (row, &kw) in cur[start * stride..].chunks_exact(stride).zip(k) {
            for (a, &v) in acc.iter_mut().zip(row) {
                *a += v as i32 * kw;
            }
        }
        for (o, &a) in out_row.iter_mut().zip(&acc) {
            *o = clip8(a);
        }
    }
    out
}

/// The horizontal pass: each input row split into one plane per channel, so that every output
/// value is a dot product over contiguous values, which the compiler vectorises (1.5× the
/// interleaved loop on a 12-megapixel photo; integer sums, so the order does not change the result).
fn horizontal_pass(
    src: &[u8],
    w: usize,
    h: usize,
    channels: usize,
    taps: &[(usize, Vec<i32>)],
) -> Vec<u8> {
    let out_w = taps.len();
    let mut out = vec![0u8; out_w * h * channels];
    let mut planes = vec![0i32; channels * w];
    for (row, out_row) in src
        .chunks_exact(w * channels)
        .zip(out.chunks_exact_mut(out_w * channels))
    {
        for (x, px) in row.chunks_exact(channels).enumerate() {
            for (c, &v) in px.iter().enumerate() {
                planes[c * w + x] = v as i32;
            }
        }
        for (c, plane) in planes.chunks_exact(w).enumerate() {
            for ((start, k), o) in taps.iter().zip(out_row[c..].iter_mut().step_by(channels)) {
                let dot: i32 = plane[*start..][..k.len()]
                    .iter()
                    .zip(k)
                    .map(|(&v, &kw)| v * kw)
                    .sum();
                *o = clip8(ROUNDING + dot);
            }
        }
    }
    out
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
    // Each source row interpolated along x once (the same products and sums as per output pixel),
    // then each output row is a blend of two of them: a photo-sized map costs two reads a pixel.
    let rows: Vec<f32> = src
        .chunks_exact(w.max(1))
        .flat_map(|row| {
            xs.iter()
                .map(|&(x0, x1, fx)| row[x0] * (1.0 - fx) + row[x1] * fx)
        })
        .collect();
    let mut out = Vec::with_capacity(out_w * out_h);
    for &(y0, y1, fy) in &ys {
        let (top, bottom) = (&rows[y0 * out_w..][..out_w], &rows[y1 * out_w..][..out_w]);
        out.extend(
            top.iter()
                .zip(bottom)
                .map(|(&t, &b)| t * (1.0 - fy) + b * fy),
        );
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

    /// Pillow's two passes written out per output value (`ImagingResampleHorizontal_8bpc` /
    /// `…Vertical_8bpc`: the rounding bias, the fixed-point taps, the clip), against the row-wise
    /// implementation, on noise, shrinking and enlarging, for 1, 3 and 4 channels.
    #[test]
    fn resize_equals_pillows_loops_written_out() {
        fn pillow(src: &[u8], w: usize, h: usize, ch: usize, ow: usize, oh: usize) -> Vec<u8> {
            let sample = |taps: &(usize, Vec<i32>), at: &dyn Fn(usize) -> u8| {
                let sum: i32 = taps
                    .1
                    .iter()
                    .enumerate()
                    .map(|(i, &k)| at(taps.0 + i) as i32 * k)
                    .sum();
                clip8(ROUNDING + sum)
            };
            let tx = fixed_point(&bicubic_taps(w, ow));
            let mut mid = vec![0u8; ow * h * ch];
            for y in 0..h {
                for x in 0..ow {
                    for c in 0..ch {
                        mid[(y * ow + x) * ch + c] = sample(&tx[x], &|i| src[(y * w + i) * ch + c]);
                    }
                }
            }
            let ty = fixed_point(&bicubic_taps(h, oh));
            let mut out = vec![0u8; ow * oh * ch];
            for y in 0..oh {
                for x in 0..ow * ch {
                    out[y * ow * ch + x] = sample(&ty[y], &|i| mid[i * ow * ch + x]);
                }
            }
            out
        }
        let mut seed = 12345u32;
        for (w, h, ch, ow, oh) in [
            (97, 61, 3, 24, 24),
            (40, 50, 3, 90, 33),
            (31, 17, 1, 8, 40),
            (23, 29, 4, 23, 7),
        ] {
            let src: Vec<u8> = (0..w * h * ch)
                .map(|_| {
                    seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    (seed >> 24) as u8
                })
                .collect();
            assert_eq!(
                resize_u8(&src, w, h, ch, ow, oh),
                pillow(&src, w, h, ch, ow, oh),
                "{w}x{h}x{ch} -> {ow}x{oh}"
            );
        }
    }

    /// PyTorch's `F.interpolate(mode="bilinear", align_corners=False)` on the same inputs.
    #[test]
    fn bilinear_matches_pytorch() {
        let square = resize_bilinear_f32(&[0., 1., 2., 3.], 2, 2, 4, 4);
        #[rustfmt::skip]
        let torch_square = [0.0, 0.25, 0.75, 1.0, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2.0, 2.25, 2.75, 3.0];
        assert_eq!(square, torch_square);
        let wide = resize_bilinear_f32(&[0.5, -1.0, 2.0, 4.0, 0.25, -3.0], 3, 2, 7, 5);
        #[rustfmt::skip]
        let torch_wide = [
            0.5, 0.2857143, -0.3571429, -1.0, 0.2857144, 1.571429, 2.0,
            0.85, 0.6035715, -0.1357143, -0.875, 0.1428572, 1.160714, 1.5,
            2.25, 1.875, 0.7499999, -0.375, -0.4285714, -0.4821429, -0.5,
            3.65, 3.146429, 1.635714, 0.125, -1.0, -2.125, -2.5,
            4.0, 3.464286, 1.857143, 0.25, -1.142857, -2.535714, -3.0,
        ];
        for (i, (a, b)) in wide.iter().zip(torch_wide).enumerate() {
            assert!(
                (a - b).abs() <= 1e-6,
                "value {i}: {a} against PyTorch's {b}"
            );
        }
        assert_eq!(wide.len(), torch_wide.len());
    }

    #[test]
    fn constant_image_stays_constant() {
        let src = vec![77u8; 13 * 7 * 3];
        assert!(resize_u8(&src, 13, 7, 3, 29, 4).iter().all(|&v| v == 77));
    }
}
