//! The memory itself: per visual group, unit patch features of K normal images and the group's
//! normal limit; built on the CPU from features the detector computed.

use super::coreset::greedy_k_center;
use super::{ReferenceFeatures, DEFAULT_MAX_PATCHES, NORMAL_QUANTILE, NORMAL_QUERIES};

/// What is wrong with reference images or a stored memory.
#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    #[error("a reference memory needs at least one normal image")]
    NoImages,
    #[error("{found} reference images given; at most {limit} are accepted")]
    TooManyImages { found: usize, limit: usize },
    #[error("reference image {image}: {reason}")]
    Image { image: usize, reason: String },
    #[error("reference memory is not valid: {0}")]
    Invalid(String),
    #[error("reference memory does not fit this model: {0}")]
    Mismatch(String),
}

/// One visual group's memory.
#[derive(Clone, Debug, PartialEq)]
pub struct ReferenceGroup {
    /// Feature width.
    pub dim: usize,
    /// Unit rows `[patches, dim]`, row-major.
    pub features: Vec<f32>,
    /// The normal limit `q_i`: the [`NORMAL_QUANTILE`] of held-out reference patches' distances.
    pub normal_distance: f32,
}

impl ReferenceGroup {
    pub fn patches(&self) -> usize {
        self.features.len() / self.dim.max(1)
    }
}

/// A category's normal-reference memory.
#[derive(Clone, Debug, PartialEq)]
pub struct ReferenceMemory {
    pub groups: Vec<ReferenceGroup>,
    /// Normal images it was built from.
    pub images: usize,
    /// Patches per side of the model's grid.
    pub grid: usize,
    /// Seed of the coreset and of the held-out queries.
    pub seed: u64,
    /// Which features its levels hold.
    pub features: ReferenceFeatures,
}

#[derive(Clone, Debug)]
pub struct BuildOptions {
    /// Coreset size per level (all patches are kept below it).
    pub max_patches: usize,
    pub seed: u64,
    pub features: ReferenceFeatures,
}

impl Default for BuildOptions {
    fn default() -> Self {
        Self {
            max_patches: DEFAULT_MAX_PATCHES,
            seed: 0,
            features: ReferenceFeatures::default(),
        }
    }
}

/// Features of one reference image: per group, `[grid², dim]` row-major (any norm).
pub type ImageFeatures = Vec<Vec<f32>>;

/// SplitMix64: the seeded stream for the coreset start and the query sample (no dependency, and
/// the same numbers on every target).
pub(crate) fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    // Eight partial sums so that the compiler vectorises the loop.
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

fn normalize_rows(rows: &mut [f32], dim: usize) {
    for r in rows.chunks_exact_mut(dim) {
        let n = dot(r, r).sqrt().max(1e-12);
        r.iter_mut().for_each(|v| *v /= n);
    }
}

/// The `q` quantile of `values` with linear interpolation between order statistics (NumPy's default).
pub fn quantile(values: &mut [f32], q: f64) -> f32 {
    values.sort_by(f32::total_cmp);
    let pos = q.clamp(0.0, 1.0) * (values.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let f = (pos - lo as f64) as f32;
    values[lo] + (values[hi] - values[lo]) * f
}

impl ReferenceMemory {
    /// Builds the memory from the features of K normal images.
    ///
    /// The normal limit `q_i` of each group is the [`NORMAL_QUANTILE`] of held-out distances: for up
    /// to [`NORMAL_QUERIES`] seeded reference patches, the distance to the nearest kept patch of the
    /// *other* reference images (leave one image out); with a single image, to the nearest kept patch
    /// of the same image outside the query's 3 × 3 neighbourhood (so a patch never matches itself or
    /// its overlapping neighbours).
    pub fn build(
        images: &[ImageFeatures],
        grid: usize,
        options: &BuildOptions,
    ) -> Result<Self, ReferenceError> {
        let k = images.len();
        if k == 0 {
            return Err(ReferenceError::NoImages);
        }
        let l = grid * grid;
        let n_groups = images[0].len();
        if n_groups == 0 || l == 0 {
            return Err(ReferenceError::Invalid(
                "the model gave no patch features".into(),
            ));
        }
        let mut groups = Vec::with_capacity(n_groups);
        for g in 0..n_groups {
            let dim = images[0][g].len() / l;
            if dim == 0 {
                return Err(ReferenceError::Invalid(format!(
                    "group {g} has no features"
                )));
            }
            let mut all = Vec::with_capacity(k * l * dim);
            for (i, img) in images.iter().enumerate() {
                match img.get(g) {
                    Some(f) if f.len() == l * dim => all.extend_from_slice(f),
                    _ => {
                        return Err(ReferenceError::Image {
                            image: i,
                            reason: format!("group {g} features are not {l} × {dim}"),
                        })
                    }
                }
            }
            if all.iter().any(|v| !v.is_finite()) {
                return Err(ReferenceError::Invalid(format!(
                    "group {g} features are not finite"
                )));
            }
            normalize_rows(&mut all, dim);
            let total = k * l;
            let kept: Vec<usize> = if total > options.max_patches.max(1) {
                greedy_k_center(
                    &all,
                    dim,
                    options.max_patches.max(1),
                    options.seed ^ g as u64,
                )
            } else {
                (0..total).collect()
            };
            let normal_distance =
                normal_limit(&all, dim, &kept, k, grid, options.seed ^ (g as u64) << 32)?;
            let mut features = Vec::with_capacity(kept.len() * dim);
            for &r in &kept {
                features.extend_from_slice(&all[r * dim..(r + 1) * dim]);
            }
            groups.push(ReferenceGroup {
                dim,
                features,
                normal_distance,
            });
        }
        Ok(Self {
            groups,
            images: k,
            grid,
            seed: options.seed,
            features: options.features,
        })
    }

    /// Kept patches per group.
    pub fn patches(&self) -> Vec<usize> {
        self.groups.iter().map(ReferenceGroup::patches).collect()
    }

    /// Checks that the memory was made for a model of this configuration.
    pub fn check_fits(
        &self,
        config: &crate::config::AcdClipConfig,
        head: crate::Head,
    ) -> Result<(), ReferenceError> {
        let dims = self.features.dims(config, head);
        let grid = config.clip.vision.grid();
        let found: Vec<usize> = self.groups.iter().map(|g| g.dim).collect();
        if found != dims {
            return Err(ReferenceError::Mismatch(format!(
                "it has feature widths {found:?} per group, this model {dims:?} (made for another model)"
            )));
        }
        if self.grid != grid {
            return Err(ReferenceError::Mismatch(format!(
                "it was made on a {0} × {0} patch grid, this model has {1} × {1}",
                self.grid, grid
            )));
        }
        Ok(())
    }
}

/// The normal limit of one group (see [`ReferenceMemory::build`]).
fn normal_limit(
    all: &[f32],
    dim: usize,
    kept: &[usize],
    images: usize,
    grid: usize,
    seed: u64,
) -> Result<f32, ReferenceError> {
    let l = grid * grid;
    let total = all.len() / dim;
    // Seeded queries without replacement (partial Fisher–Yates).
    let mut order: Vec<usize> = (0..total).collect();
    let n_queries = total.min(NORMAL_QUERIES);
    let mut state = seed ^ 0x5EED_0F_11A1;
    for i in 0..n_queries {
        let j = i + (splitmix64(&mut state) % (total - i) as u64) as usize;
        order.swap(i, j);
    }
    let mut distances = Vec::with_capacity(n_queries);
    for &q in &order[..n_queries] {
        let (qi, qp) = (q / l, q % l);
        let (qy, qx) = ((qp / grid) as isize, (qp % grid) as isize);
        let qf = &all[q * dim..(q + 1) * dim];
        let mut best = f32::NEG_INFINITY;
        for &m in kept {
            let (mi, mp) = (m / l, m % l);
            let allowed = if images > 1 {
                mi != qi
            } else {
                let (my, mx) = ((mp / grid) as isize, (mp % grid) as isize);
                (my - qy).abs() > 1 || (mx - qx).abs() > 1
            };
            if allowed {
                best = best.max(dot(qf, &all[m * dim..(m + 1) * dim]));
            }
        }
        if best.is_finite() {
            distances.push((1.0 - best).max(0.0));
        }
    }
    if distances.is_empty() {
        return Err(ReferenceError::Invalid(format!(
            "a {grid} × {grid} patch grid leaves no held-out patch to measure normal distances with one image"
        )));
    }
    Ok(quantile(&mut distances, NORMAL_QUANTILE).max(1e-6))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_matches_numpy_linear() {
        // numpy.quantile([3, 1, 4, 1, 5], 0.99) = 4.96; 0.5 → 3.0; 0.1 → 1.0
        let mut v = vec![3.0, 1.0, 4.0, 1.0, 5.0];
        assert!((quantile(&mut v, 0.99) - 4.96).abs() < 1e-6);
        assert!((quantile(&mut v, 0.5) - 3.0).abs() < 1e-6);
        assert!((quantile(&mut v, 0.1) - 1.0).abs() < 1e-6);
    }

    /// Features where every patch of every image is one of two unit vectors: held-out distances
    /// are exactly 0, so the limit is the floor 1e-6; an orthogonal third vector is at distance 1.
    #[test]
    fn limit_is_the_held_out_quantile() {
        let grid = 2;
        let img = |a: f32| vec![vec![a, 0.0, a, 0.0, 0.0, 1.0, 0.0, 1.0]]; // 4 patches of dim 2
        let m =
            ReferenceMemory::build(&[img(1.0), img(2.0)], grid, &BuildOptions::default()).unwrap();
        assert_eq!(m.groups[0].patches(), 8);
        assert_eq!(m.groups[0].normal_distance, 1e-6);
        // rows are unit
        assert!((m.groups[0].features[2] - 1.0).abs() < 1e-7);
    }

    /// One image, 3 × 3 grid, patch p at angle 0.3·p on the unit circle, except patch 8 = patch 0
    /// and patch 6 = patch 2. Allowed neighbours are those at Chebyshev distance > 1; the centre has
    /// none and is skipped. By hand: corners 0, 2, 6, 8 find their twin (distance 0); edge 1 (0.3)
    /// sees 6, 7, 8 → nearest 0.6 or 0: Δ = 0.3; edge 3 (0.9) sees 2, 5, 8 → 0.6: Δ = 0.3; edge 5 (1.5)
    /// sees 0, 3, 6 → 0.9: Δ = 0.6; edge 7 (2.1) sees 0, 1, 2 → 0.6: Δ = 1.5. Sorted distances
    /// 0, 0, 0, 0, a, a, b, c with a = 1 − cos 0.3, b = 1 − cos 0.6, c = 1 − cos 1.5; the 0.99
    /// quantile is b + 0.93 (c − b). Without the exclusion every patch would find a neighbour closer.
    #[test]
    fn single_image_excludes_the_neighbourhood() {
        let mut f = vec![0f32; 9 * 2];
        for p in 0..9 {
            let a = p as f32 * 0.3;
            f[p * 2] = a.cos();
            f[p * 2 + 1] = a.sin();
        }
        f[16] = f[0];
        f[17] = f[1];
        f[12] = f[4];
        f[13] = f[5];
        let m = ReferenceMemory::build(&[vec![f]], 3, &BuildOptions::default()).unwrap();
        let (b, c) = (1.0 - 0.6f64.cos(), 1.0 - 1.5f64.cos());
        let expected = b + 0.93 * (c - b);
        let q = m.groups[0].normal_distance as f64;
        assert!((q - expected).abs() < 1e-5, "{q} vs {expected}");
    }

    #[test]
    fn wrong_sizes_are_refused() {
        let e = ReferenceMemory::build(&[vec![vec![0.0; 7]]], 2, &BuildOptions::default());
        assert!(e.is_err());
        let e = ReferenceMemory::build(&[], 2, &BuildOptions::default());
        assert!(matches!(e, Err(ReferenceError::NoImages)));
        let a = vec![vec![1.0; 8]];
        let b = vec![vec![1.0; 6]];
        let e = ReferenceMemory::build(&[a, b], 2, &BuildOptions::default());
        assert!(
            matches!(e, Err(ReferenceError::Image { image: 1, .. })),
            "{e:?}"
        );
    }
}
