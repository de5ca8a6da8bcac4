//! From map logits to the anomaly map and the image score (docs/model.md §4.3, §4.4): the test-time
//! Gaussian blur and the bilinear upsampling as two small matrices (`MapOperators`), and the fusion
//! of the classifier probability with the map maximum (`fuse_score`).

use burn::tensor::{backend::Backend, Tensor, TensorData};

/// Index of torch's `reflect` padding (mirror without repeating the edge), folded until inside.
fn reflect(mut i: i64, n: i64) -> usize {
    if n == 1 {
        return 0;
    }
    let period = 2 * (n - 1);
    i = i.rem_euclid(period);
    (if i >= n { period - i } else { i }) as usize
}

/// Kornia's normalised 1-D Gaussian, `exp(−x²/2σ²)` for x = −k//2 … k//2.
pub fn gaussian_kernel(size: usize, sigma: f64) -> Vec<f64> {
    let half = (size / 2) as f64;
    let k: Vec<f64> = (0..size)
        .map(|i| (-(i as f64 - half).powi(2) / (2.0 * sigma * sigma)).exp())
        .collect();
    let s: f64 = k.iter().sum();
    k.into_iter().map(|v| v / s).collect()
}

/// Row-major `[n, n]` matrix of the 1-D Gaussian blur with reflect border: `y = K·x`.
pub fn blur_matrix(n: usize, size: usize, sigma: f64) -> Vec<f64> {
    let k = gaussian_kernel(size, sigma);
    let r = (size / 2) as i64;
    let mut m = vec![0f64; n * n];
    for i in 0..n {
        for (t, &w) in k.iter().enumerate() {
            let j = reflect(i as i64 + t as i64 - r, n as i64);
            m[i * n + j] += w;
        }
    }
    m
}

/// Row-major `[out, n]` matrix of 1-D linear interpolation with `align_corners=True`.
pub fn upsample_matrix(n: usize, out: usize) -> Vec<f64> {
    let mut m = vec![0f64; out * n];
    for o in 0..out {
        let src = if out > 1 {
            o as f64 * (n as f64 - 1.0) / (out as f64 - 1.0)
        } else {
            0.0
        };
        let i0 = (src.floor() as usize).min(n - 1);
        let i1 = (i0 + 1).min(n - 1);
        let f = src - i0 as f64;
        m[o * n + i0] += 1.0 - f;
        m[o * n + i1] += f;
    }
    m
}

fn matmul_f64(a: &[f64], b: &[f64], n: usize, k: usize, m: usize) -> Vec<f64> {
    let mut out = vec![0f64; n * m];
    for i in 0..n {
        for t in 0..k {
            let av = a[i * k + t];
            if av != 0.0 {
                for j in 0..m {
                    out[i * m + j] += av * b[t * m + j];
                }
            }
        }
    }
    out
}

/// The linear map post-processing as two small matrices, applied as `P·X·Pᵀ` to each `[g, g]` map:
/// blur (test time) and bilinear upsampling with aligned corners.
#[derive(Clone, Debug)]
pub struct MapOperators {
    pub grid: usize,
    pub out: usize,
    /// `[g, g]`, identity when no blur.
    pub blur: Vec<f64>,
    /// `[out, g]`.
    pub upsample: Vec<f64>,
}

impl MapOperators {
    pub fn new(grid: usize, out: usize, blur: Option<(usize, f64)>) -> Self {
        let blur = match blur {
            Some((size, sigma)) => blur_matrix(grid, size, sigma),
            None => (0..grid * grid)
                .map(|i| if i / grid == i % grid { 1.0 } else { 0.0 })
                .collect(),
        };
        Self {
            grid,
            out,
            blur,
            upsample: upsample_matrix(grid, out),
        }
    }

    /// `m` as a tensor in the precision of the maps `like` it applies to.
    fn tensor<B: Backend>(
        m: &[f64],
        rows: usize,
        cols: usize,
        like: &Tensor<B, 4>,
    ) -> Tensor<B, 2> {
        let data: Vec<f32> = m.iter().map(|&v| v as f32).collect();
        Tensor::from_data(
            TensorData::new(data, [rows, cols]),
            (&like.device(), like.dtype()),
        )
    }

    /// Applies `M·X·Mᵀ` to `[B, C, h, h]` maps.
    fn apply<B: Backend>(x: Tensor<B, 4>, m: Tensor<B, 2>) -> Tensor<B, 4> {
        let [b, c, h, _] = x.dims();
        let [o, _] = m.dims();
        let m3 = m.unsqueeze::<3>().expand([b * c, o, h]);
        let x = x.reshape([b * c, h, h]);
        let y = m3.clone().matmul(x).matmul(m3.swap_dims(1, 2));
        y.reshape([b, c, o, o])
    }

    pub fn blur<B: Backend>(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let m = Self::tensor(&self.blur, self.grid, self.grid, &x);
        Self::apply(x, m)
    }

    pub fn upsample<B: Backend>(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let m = Self::tensor(&self.upsample, self.out, self.grid, &x);
        Self::apply(x, m)
    }

    /// Blur then upsample in one product (`P = U·K`, `[out, g]`).
    pub fn blur_and_upsample<B: Backend>(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let p = matmul_f64(&self.upsample, &self.blur, self.out, self.grid, self.grid);
        let m = Self::tensor(&p, self.out, self.grid, &x);
        Self::apply(x, m)
    }
}

/// The largest value of each `[h, w]` map of `[B, h, w]`: of each line, then of the lines. One
/// reduction over all `h·w` values misses some on Burn 0.21's wgpu backend (on lavapipe a 518×518
/// map's maximum near its end was not seen: `tests/src/backends.rs`,
/// `fused_score_sees_the_whole_map`); reductions over a line's length are exact on every backend.
pub fn max_per_image<B: Backend>(map: Tensor<B, 3>) -> Tensor<B, 1> {
    let [b, h, _] = map.dims();
    map.max_dim(2).reshape([b, h]).max_dim(1).reshape([b])
}

/// Fused image score: `w·p_cls + (1 − w)·max(map)` per image.
pub fn fuse_score<B: Backend>(
    p_cls: Tensor<B, 1>,
    map: Tensor<B, 3>,
    weight: f32,
) -> (Tensor<B, 1>, Tensor<B, 1>) {
    let pixel_max = max_per_image(map);
    (
        p_cls * weight + pixel_max.clone() * (1.0 - weight),
        pixel_max,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaussian_matches_kornia_constants() {
        // docs/model.md §4.3: k7/σ1 → [.004433, .054006, .242036, .39905, …],
        // k9/σ1.5 → [.007614, .036075, .109586, .213445, .26656, …]
        let k7 = gaussian_kernel(7, 1.0);
        for (a, b) in k7.iter().zip([0.004433, 0.054006, 0.242036, 0.39905]) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
        let k9 = gaussian_kernel(9, 1.5);
        for (a, b) in k9
            .iter()
            .zip([0.007614, 0.036075, 0.109586, 0.213445, 0.26656])
        {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
    }

    #[test]
    fn reflect_mirrors_without_repeating_the_edge() {
        assert_eq!(reflect(-1, 5), 1);
        assert_eq!(reflect(-2, 5), 2);
        assert_eq!(reflect(5, 5), 3);
        assert_eq!(reflect(6, 5), 2);
        assert_eq!(reflect(3, 5), 3);
    }

    #[test]
    fn upsample_hits_the_corners_and_interpolates() {
        let m = upsample_matrix(37, 518);
        // src = dst·36/517: row 0 → node 0, row 517 → node 36; each row sums to 1.
        assert_eq!(m[0], 1.0);
        assert!((m[517 * 37 + 36] - 1.0).abs() < 1e-12);
        for o in 0..518 {
            let s: f64 = m[o * 37..(o + 1) * 37].iter().sum();
            assert!((s - 1.0).abs() < 1e-12);
        }
        let src: f64 = 100.0 * 36.0 / 517.0;
        let f = src - src.floor();
        assert!((m[100 * 37 + src.floor() as usize] - (1.0 - f)).abs() < 1e-12);
    }
}
