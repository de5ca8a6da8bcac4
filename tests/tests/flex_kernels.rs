//! The kernels patched into burn-flex (vendor/burn-flex/PATCHES.md), against references computed
//! here in f64 and against burn-ndarray's independent implementation.

use burn::backend::{Flex, NdArray};
use burn::tensor::activation::gelu;
use burn::tensor::backend::Backend;
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Tensor, TensorData};

/// Deterministic values in [-2, 2) without a random generator (so the test data is the same on
/// every platform).
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 2.0
        })
        .collect()
}

/// softmax(q kᵀ / √d [causal]) v in f64, with upstream's causal convention: row `i` sees keys
/// `0..=i + (seq_kv − seq_q)`; a row that sees none is zero.
fn reference(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    (bh, seq_q, seq_kv, d): (usize, usize, usize, usize),
    causal: bool,
) -> Vec<f64> {
    let mut out = vec![0f64; bh * seq_q * d];
    let scale = 1.0 / (d as f64).sqrt();
    for p in 0..bh {
        for i in 0..seq_q {
            let visible = if causal {
                (i as isize + seq_kv as isize - seq_q as isize + 1).clamp(0, seq_kv as isize)
                    as usize
            } else {
                seq_kv
            };
            let scores: Vec<f64> = (0..visible)
                .map(|j| {
                    (0..d)
                        .map(|c| {
                            q[(p * seq_q + i) * d + c] as f64 * k[(p * seq_kv + j) * d + c] as f64
                        })
                        .sum::<f64>()
                        * scale
                })
                .collect();
            let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
            let sum: f64 = e.iter().sum();
            for c in 0..d {
                let o: f64 = (0..visible)
                    .map(|j| e[j] * v[(p * seq_kv + j) * d + c] as f64)
                    .sum();
                out[(p * seq_q + i) * d + c] = if visible == 0 { 0.0 } else { o / sum };
            }
        }
    }
    out
}

/// q, k, v as the CLIP block makes them: heads split out of one packed `[b, t, 3·h·d]` projection
/// by narrow + reshape + swap_dims, i.e. strided views, not contiguous tensors.
fn packed_views<B: Backend>(
    packed: &[f32],
    (b, h, t, d): (usize, usize, usize, usize),
    device: &B::Device,
) -> [Tensor<B, 4>; 3] {
    let qkv =
        Tensor::<B, 3>::from_data(TensorData::new(packed.to_vec(), [b, t, 3 * h * d]), device);
    [0, 1, 2].map(|i| {
        qkv.clone()
            .narrow(2, i * h * d, h * d)
            .reshape([b, t, h, d])
            .swap_dims(1, 2)
    })
}

/// Contiguous `[b, h, t, d]` copy of one of the packed parts, for the f64 reference.
fn unpack(packed: &[f32], part: usize, (b, h, t, d): (usize, usize, usize, usize)) -> Vec<f32> {
    let mut out = Vec::with_capacity(b * h * t * d);
    for bi in 0..b {
        for hi in 0..h {
            for ti in 0..t {
                let row = (bi * t + ti) * 3 * h * d + part * h * d + hi * d;
                out.extend_from_slice(&packed[row..row + d]);
            }
        }
    }
    out
}

fn run_attention<B: Backend>(
    q: Tensor<B, 4>,
    k: Tensor<B, 4>,
    v: Tensor<B, 4>,
    causal: bool,
) -> Vec<f32> {
    let options = AttentionModuleOptions {
        is_causal: causal,
        ..Default::default()
    };
    // Through the same swap_dims + reshape the CLIP block applies to the output.
    let out = attention(q, k, v, None, None, options);
    let [b, h, t, d] = out.dims();
    out.swap_dims(1, 2)
        .reshape([b, t, h * d])
        .reshape([b, t, h, d])
        .swap_dims(1, 2)
        .into_data()
        .to_vec::<f32>()
        .unwrap()
}

fn max_abs(a: &[f32], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (*x as f64 - y).abs())
        .fold(0.0, f64::max)
}

/// Self-attention on packed, strided q/k/v: query rows over several 128-row blocks plus a partial
/// one, a key count that is not a multiple of the exp's 16-value blocks, with and without the causal
/// mask.
#[test]
fn dense_attention_matches_f64_on_packed_heads() {
    let dims = (2, 3, 261, 20); // b, h, t, d
    let packed = values(dims.0 * dims.2 * 3 * dims.1 * dims.3, 7);
    let (q, k, v) = (
        unpack(&packed, 0, dims),
        unpack(&packed, 1, dims),
        unpack(&packed, 2, dims),
    );
    for causal in [false, true] {
        let want = reference(
            &q,
            &k,
            &v,
            (dims.0 * dims.1, dims.2, dims.2, dims.3),
            causal,
        );
        let [fq, fk, fv] = packed_views::<Flex>(&packed, dims, &Default::default());
        let flex = run_attention(fq, fk, fv, causal);
        let [nq, nk, nv] = packed_views::<NdArray>(&packed, dims, &Default::default());
        let ndarray = run_attention(nq, nk, nv, causal);
        assert!(
            max_abs(&flex, &want) < 2e-6,
            "flex causal={causal}: {}",
            max_abs(&flex, &want)
        );
        assert!(max_abs(&ndarray, &want) < 2e-6, "ndarray causal={causal}");
    }
}

/// Cross-attention shapes (seq_kv ≠ seq_q) from contiguous tensors, including causal rows that see
/// no key at all (seq_kv < seq_q), which must come out as zeros, not NaN.
#[test]
fn dense_attention_matches_f64_on_cross_shapes() {
    let device = Default::default();
    for (seq_q, seq_kv) in [(5, 300), (150, 9)] {
        let (bh, d) = (2, 16);
        let q = values(bh * seq_q * d, 1);
        let k = values(bh * seq_kv * d, 2);
        let v = values(bh * seq_kv * d, 3);
        let t = |x: &[f32], s: usize| {
            Tensor::<Flex, 4>::from_data(TensorData::new(x.to_vec(), [1, bh, s, d]), &device)
        };
        for causal in [false, true] {
            let want = reference(&q, &k, &v, (bh, seq_q, seq_kv, d), causal);
            let got = run_attention(t(&q, seq_q), t(&k, seq_kv), t(&v, seq_kv), causal);
            assert!(got.iter().all(|x| x.is_finite()));
            let err = max_abs(&got, &want);
            assert!(
                err < 2e-6,
                "seq_q {seq_q} seq_kv {seq_kv} causal {causal}: {err}"
            );
        }
    }
}

/// No keys at all: zeros, as upstream's flash path gives, rather than a panic or NaN.
#[test]
fn attention_without_keys_is_zero() {
    let device = Default::default();
    let q = Tensor::<Flex, 4>::ones([1, 2, 3, 4], &device);
    let kv = Tensor::<Flex, 4>::ones([1, 2, 0, 4], &device);
    let out = run_attention(q, kv.clone(), kv, false);
    assert_eq!(out, vec![0.0; 2 * 3 * 4]);
}

/// The vectorised exp: every numerator within 3e-7 relative of f64 exp (of the same f32 argument),
/// the sum within 1e-6, for lengths that exercise the 16-value blocks and the tail, over the whole
/// useful range (differences below −88.4 give 0).
#[test]
fn softmax_numerators_match_f64_exp() {
    use burn_flex::simd::exp::softmax_numerators;
    for len in [1usize, 7, 8, 9, 15, 16, 17, 64, 197, 1370] {
        let row: Vec<f32> = (0..len)
            .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 * 90.0 - 80.0)
            .collect();
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut got = row.clone();
        let sum = softmax_numerators(&mut got);
        let mut want_sum = 0.0f64;
        for (x, g) in row.iter().zip(&got) {
            // exp of the f32 difference: the kernel cannot undo the rounding of `x − max`.
            let want = ((*x - max) as f64).exp();
            want_sum += want;
            assert!(
                (*g as f64 - want).abs() <= 3e-7 * want + 1e-37,
                "exp({x} - {max}) = {g}, want {want}"
            );
        }
        assert!(
            (sum as f64 - want_sum).abs() <= 1e-6 * want_sum,
            "{sum} vs {want_sum}"
        );
    }
    assert_eq!(softmax_numerators(&mut []), 0.0);
}

/// The softmax numerators are the same bits on the widest vector unit of this CPU (AVX-512 or
/// AVX2 where it has them) as in the baseline build (no FMA is fused anywhere), so the page's
/// SIMD128 module and the native CLI compute the same attention weights.
#[test]
fn softmax_numerators_are_the_same_bits_on_every_instruction_set() {
    use burn_flex::simd::exp::{softmax_numerators, softmax_numerators_baseline};
    for len in [5usize, 16, 33, 197, 1370] {
        let row: Vec<f32> = (0..len)
            .map(|i| ((i * 104_729) % 9973) as f32 / 9973.0 * 60.0 - 50.0)
            .collect();
        let (mut wide, mut baseline) = (row.clone(), row.clone());
        let (wide_sum, baseline_sum) = (
            softmax_numerators(&mut wide),
            softmax_numerators_baseline(&mut baseline),
        );
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&wide), bits(&baseline), "numerators of a row of {len}");
        assert_eq!(
            wide_sum.to_bits(),
            baseline_sum.to_bits(),
            "sum of a row of {len}"
        );
    }
}

/// GELU, `0.5·x·(1 + erf(x/√2))` with fdlibm's f64 erf, on a dense grid over [−12, 12] (every
/// branch of the clamp and the far tails): the vectorised erf of the patch is within 6.5e-8 of the
/// exact one, so the f32 result is within 1.2e-7·max(|x|, 1) (that error, scaled by |x|/2, plus
/// half an f32 ulp of the result). Both paths: in place on a contiguous tensor, element-wise on a
/// transposed view. NaN stays NaN.
#[test]
fn gelu_matches_f64_erf() {
    let n = 1_200_001;
    let x: Vec<f32> = (0..n)
        .map(|i| -12.0 + 24.0 * i as f32 / (n - 1) as f32)
        .collect();
    let want = |v: f32| {
        let v = f64::from(v);
        0.5 * v * (1.0 + libm::erf(v / std::f64::consts::SQRT_2))
    };
    let check = |got: &[f32], input: &[f32]| {
        let mut worst = (0.0f64, 0.0f32);
        for (g, v) in got.iter().zip(input) {
            let e = (f64::from(*g) - want(*v)).abs() / f64::from(v.abs().max(1.0));
            if e > worst.0 {
                worst = (e, *v);
            }
        }
        assert!(
            worst.0 < 1.2e-7,
            "GELU({}) off by {:e}·max(|x|, 1)",
            worst.1,
            worst.0
        );
    };
    let device = Default::default();
    let contiguous = gelu(Tensor::<Flex, 1>::from_floats(x.as_slice(), &device));
    check(&contiguous.into_data().to_vec::<f32>().unwrap(), &x);
    // [rows, cols] filled row-major, transposed: the element-wise path, in column-major order.
    let (rows, cols) = (1_000, 1_200);
    let grid = Tensor::<Flex, 2>::from_data(
        TensorData::new(x[..rows * cols].to_vec(), [rows, cols]),
        &device,
    );
    let transposed = gelu(grid.transpose()).transpose();
    check(
        &transposed.into_data().to_vec::<f32>().unwrap(),
        &x[..rows * cols],
    );
    let nan = gelu(Tensor::<Flex, 1>::from_floats([f32::NAN, 1.0], &device));
    let nan = nan.into_data().to_vec::<f32>().unwrap();
    assert!(
        nan[0].is_nan() && (nan[1] - 0.841_344_7).abs() < 1e-6,
        "{nan:?}"
    );
}

/// GELU over a tensor large enough for the parallel in-place path equals burn-ndarray's.
#[test]
fn parallel_gelu_matches_ndarray() {
    let n = 300_001;
    let x = values(n, 11);
    let flex = gelu(Tensor::<Flex, 1>::from_floats(
        x.as_slice(),
        &Default::default(),
    ));
    let nd = gelu(Tensor::<NdArray, 1>::from_floats(
        x.as_slice(),
        &Default::default(),
    ));
    let (a, b) = (
        flex.into_data().to_vec::<f32>().unwrap(),
        nd.into_data().to_vec::<f32>().unwrap(),
    );
    let err = a
        .iter()
        .zip(&b)
        .map(|(p, q)| (p - q).abs())
        .fold(0.0, f32::max);
    assert!(err < 1e-6, "{err}");
    // Not a no-op: GELU(-2) ≈ -0.0455, GELU(1) ≈ 0.8413.
    assert!(a.iter().zip(&x).any(|(g, v)| (g - v).abs() > 0.5));
}

/// `x · W + b` in f64 for `rows × k` times `k × n`.
fn linear_reference(x: &[f32], w: &[f32], b: Option<&[f32]>, k: usize, n: usize) -> Vec<f64> {
    let rows = x.len() / k;
    let mut out = vec![0f64; rows * n];
    for r in 0..rows {
        for j in 0..n {
            let dot: f64 = (0..k)
                .map(|c| x[r * k + c] as f64 * w[c * n + j] as f64)
                .sum();
            out[r * n + j] = dot + b.map_or(0.0, |b| b[j] as f64);
        }
    }
    out
}

/// The fused linear (bias as gemm's starting value, batch rows folded into one product, output
/// columns split over threads for few rows) against f64, on the shapes that take each path: few
/// rows (split, with a last column block narrower than the others), a batch that folds, more rows
/// than the split takes, no bias, and a token-sliced input whose batch rows do not fold (the
/// generic matmul + add).
#[test]
fn fused_linear_matches_f64() {
    let device = Default::default();
    let (k, n) = (300, 520);
    let w = values(k * n, 21);
    let b = values(n, 22);
    let weight = Tensor::<Flex, 2>::from_data(TensorData::new(w.clone(), [k, n]), &device);
    let bias = Tensor::<Flex, 1>::from_floats(b.as_slice(), &device);
    for (batch, tokens, with_bias) in [
        (1, 197, true),
        (3, 197, true),
        (2, 700, true),
        (2, 197, false),
    ] {
        let x = values(batch * tokens * k, 23 + tokens as u64);
        let input =
            Tensor::<Flex, 3>::from_data(TensorData::new(x.clone(), [batch, tokens, k]), &device);
        let got =
            burn::tensor::module::linear(input, weight.clone(), with_bias.then(|| bias.clone()));
        assert_eq!(got.dims(), [batch, tokens, n]);
        let want = linear_reference(&x, &w, with_bias.then_some(b.as_slice()), k, n);
        let err = max_abs(&got.into_data().to_vec::<f32>().unwrap(), &want);
        assert!(
            err < 2e-4,
            "batch {batch}, {tokens} tokens, bias {with_bias}: {err}"
        );
    }
    // Tokens 1.. of each batch matrix: batch stride ≠ tokens × row stride.
    let (batch, tokens) = (2, 198);
    let x = values(batch * tokens * k, 31);
    let full =
        Tensor::<Flex, 3>::from_data(TensorData::new(x.clone(), [batch, tokens, k]), &device);
    let got = burn::tensor::module::linear(full.narrow(1, 1, tokens - 1), weight, Some(bias));
    let sliced: Vec<f32> = x
        .chunks(tokens * k)
        .flat_map(|m| m[k..].iter().copied())
        .collect();
    let want = linear_reference(&sliced, &w, Some(&b), k, n);
    let err = max_abs(&got.into_data().to_vec::<f32>().unwrap(), &want);
    assert!(err < 2e-4, "sliced tokens: {err}");
}

/// LayerNorm as the model runs it (`acd_core::nn::LayerNorm`, the backend's fused op) against f64,
/// on rows whose mean (3000) dwarfs their spread (std ≈ 1.15): the one-sweep `E[x²] − E[x]²`
/// loses the variance to cancellation there (f32 spacing at 9·10⁶ is 1), the two-pass form does not.
#[test]
fn layer_norm_matches_f64_with_a_large_mean() {
    fn check<B: Backend>(device: &B::Device) {
        let (rows, d) = (130, 768);
        let x: Vec<f32> = values(rows * d, 41).iter().map(|v| 3000.0 + v).collect();
        let gamma = values(d, 42);
        let beta = values(d, 43);
        let mut ln = acd_core::nn::layer_norm::<B>(d, device);
        ln.gamma = burn::module::Param::from_tensor(Tensor::from_floats(gamma.as_slice(), device));
        ln.beta = Some(burn::module::Param::from_tensor(Tensor::from_floats(
            beta.as_slice(),
            device,
        )));
        let got = ln.forward(Tensor::<B, 2>::from_data(
            TensorData::new(x.clone(), [rows, d]),
            device,
        ));
        let mut want = vec![0f64; rows * d];
        for r in 0..rows {
            let row = &x[r * d..(r + 1) * d];
            let mean = row.iter().map(|&v| v as f64).sum::<f64>() / d as f64;
            let var = row.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / d as f64;
            for c in 0..d {
                want[r * d + c] =
                    (row[c] as f64 - mean) / (var + 1e-5).sqrt() * gamma[c] as f64 + beta[c] as f64;
            }
        }
        let err = max_abs(&got.into_data().to_vec::<f32>().unwrap(), &want);
        assert!(err < 2e-3, "{}: {err}", std::any::type_name::<B>());
    }
    check::<Flex>(&Default::default());
    check::<NdArray>(&Default::default());
}

/// Every view the patched layouts make (a reshape that splits or merges dimensions of a strided
/// view, size-1 dimensions given compact strides by narrow and slice) read back, and run through
/// element-wise ops and reductions, against burn-ndarray, which copies where it must: equal but
/// for the rounding of the two backends' sums.
#[test]
fn strided_views_match_ndarray() {
    fn views<B: Backend>(device: &B::Device) -> Vec<Vec<f32>> {
        let x = Tensor::<B, 3>::from_data(TensorData::new(values(120, 41), [2, 5, 12]), device);
        let read = |t: Tensor<B, 2>| t.into_data().to_vec::<f32>().unwrap();
        let square_plus = |t: Tensor<B, 2>| read(t.clone() * t + 1.0);
        let flat = |t: Tensor<B, 4>| t.reshape([-1, 1]).reshape([1, -1]);
        let tokens = x.clone().narrow(0, 1, 1).narrow(1, 1, 4); // [1, 4, 12] at an offset
        let row = Tensor::<B, 1>::from_floats(values(12, 42).as_slice(), device);
        let mut out = vec![
            // the head split of a packed projection: a view
            read(flat(x.clone().narrow(2, 4, 4).reshape([2, 5, 2, 2]))),
            read(x.clone().narrow(2, 4, 4).reshape([10, 4])),
            // rows that do not merge (stride 60 ≠ 3 · 12): a copy
            read(x.clone().narrow(1, 1, 3).reshape([6, 12])),
            read(x.clone().swap_dims(1, 2).reshape([2, 60])),
            read(flat(x.clone().swap_dims(1, 2).reshape([2, 3, 4, 5]))),
            read(flat(x.clone().narrow(2, 0, 6).reshape([2, 5, 6, 1])).reshape([2, 30])),
            read(flat(
                x.clone()
                    .narrow(2, 4, 4)
                    .reshape([2, 1, 5, 4])
                    .swap_dims(0, 2),
            )),
            read(
                x.clone()
                    .reshape([1, 2, 5, 12])
                    .narrow(2, 1, 3)
                    .reshape([2, 3, 3, 4])
                    .swap_dims(1, 3)
                    .reshape([2, 36]),
            ),
            square_plus(tokens.clone().reshape([4, 12])),
            read(tokens.clone().sum_dim(2).reshape([1, 4])),
            read((tokens.clone() * tokens.clone().abs().sum_dim(2).sqrt()).reshape([4, 12])),
            square_plus(x.clone().narrow(1, 1, 4).reshape([8, 12])),
            // broadcasts onto a view at an offset: a shared row, a per-row scalar
            read((tokens.clone() * row.clone().unsqueeze::<3>()).reshape([4, 12])),
            read((tokens.clone() - tokens.clone().sum_dim(2)).reshape([4, 12])),
            read(x.clone().slice([0..2, 2..3, 1..12]).reshape([2, 11])),
        ];
        let qkv = x.narrow(2, 8, 4).reshape([2, 5, 2, 2]).swap_dims(1, 2);
        out.push(read(flat(qkv.clone() * qkv.clone() - qkv)));
        out
    }
    let got = views::<Flex>(&Default::default());
    let want = views::<NdArray>(&Default::default());
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g.len(), w.len(), "view {i}");
        let close = g
            .iter()
            .zip(w)
            .all(|(a, b)| (a - b).abs() <= 1e-5 * (1.0 + b.abs()));
        assert!(close, "view {i}: {g:?} against {w:?}");
    }
}
