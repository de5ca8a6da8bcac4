//! The memory on the compute device, and what it adds to a detection: the reference anomaly of
//! each patch and the out-of-domain check (formulas in the module above).

use burn::tensor::{backend::Backend, DType, Tensor, TensorData};

use super::memory::ReferenceMemory;
use super::FAR_FRACTION_LIMIT;
use crate::precision::{in_f32, l2_normalize};

/// Columns of the similarity matrix computed at once (bounds its memory: patches × this × 4 B).
const MEMORY_CHUNK: usize = 8192;

/// Where a memory came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReferenceSource {
    /// Shipped in the model bundle (`acd export --reference`).
    Bundle,
    /// Built from the user's images at run time (`acd detect --reference`, the page).
    User,
}

/// What a detection says about the memory it used.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ReferenceInfo {
    pub images: usize,
    /// Kept patches per group.
    pub patches: Vec<usize>,
    pub source: ReferenceSource,
    /// Used for the out-of-domain check only (its score and map are the zero-shot ones).
    pub domain_only: bool,
    /// Which features it keeps.
    pub features: super::ReferenceFeatures,
}

/// The out-of-domain check of one image.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct DomainCheck {
    /// Fraction of the image's patches beyond the memory's normal limit.
    pub far_fraction: f32,
    /// Above this fraction the image is outside what the model knows.
    pub limit: f32,
    pub outside: bool,
}

impl DomainCheck {
    pub fn new(far_fraction: f32) -> Self {
        Self {
            far_fraction,
            limit: FAR_FRACTION_LIMIT,
            // NaN (a failed read) counts as outside: never a verdict on a broken number.
            outside: !(far_fraction <= FAR_FRACTION_LIMIT),
        }
    }
}

/// A memory uploaded to the device.
#[derive(Clone, Debug)]
pub struct DeviceReference<B: Backend> {
    /// Unit rows `[patches, dim]` per group.
    groups: Vec<Tensor<B, 2>>,
    /// `1 / q_i` per group.
    inverse_limits: Vec<f32>,
    pub info: ReferenceInfo,
    /// The CPU copy (for serialising and for restoring a bundle's memory).
    pub memory: ReferenceMemory,
}

impl<B: Backend> DeviceReference<B> {
    pub fn new(
        memory: ReferenceMemory,
        source: ReferenceSource,
        domain_only: bool,
        device: &B::Device,
    ) -> Self {
        let groups = memory
            .groups
            .iter()
            .map(|g| {
                // f32 whatever the model's precision: distances of near neighbours, 1 − cos,
                // lose most of their digits in f16 (`normalized_distance`)
                Tensor::from_data(
                    TensorData::new(g.features.clone(), [g.patches(), g.dim]),
                    (device, DType::F32),
                )
            })
            .collect();
        Self {
            groups,
            inverse_limits: memory
                .groups
                .iter()
                .map(|g| 1.0 / g.normal_distance)
                .collect(),
            info: ReferenceInfo {
                images: memory.images,
                patches: memory.patches(),
                source,
                domain_only,
                features: memory.features,
            },
            memory,
        }
    }

    /// `r(p) = mean_i d_i(p) / q_i`, `[B, L]`, from per-group patch features `[B, L, D_i]` (any norm).
    pub fn normalized_distance(&self, features: &[Tensor<B, 3>]) -> Tensor<B, 2> {
        let mut sum: Option<Tensor<B, 2>> = None;
        for ((f, m), inv) in features.iter().zip(&self.groups).zip(&self.inverse_limits) {
            let [b, l, d] = f.dims();
            let x = l2_normalize(in_f32(f.clone())).reshape([b * l, d]);
            let [rows, _] = m.dims();
            let mut best: Option<Tensor<B, 2>> = None;
            for start in (0..rows).step_by(MEMORY_CHUNK) {
                let chunk = m.clone().narrow(0, start, MEMORY_CHUNK.min(rows - start));
                let s = x.clone().matmul(chunk.transpose()).max_dim(1); // [B·L, 1]
                best = Some(match best {
                    Some(acc) => acc.max_pair(s),
                    None => s,
                });
            }
            let best = best.expect("a memory has at least one patch");
            let r = (best.neg() + 1.0).clamp_min(0.0) * (*inv as f64);
            let r = r.reshape([b, l]);
            sum = Some(match sum {
                Some(acc) => acc + r,
                None => r,
            });
        }
        sum.expect("at least one group") / features.len().max(1) as f64
    }
}

/// The reference anomaly `a = 1 − 2^(−r)`.
pub fn reference_anomaly<B: Backend, const D: usize>(r: Tensor<B, D>) -> Tensor<B, D> {
    (r * (-std::f64::consts::LN_2)).exp().neg() + 1.0
}

/// Fraction of patches beyond the normal limit (`r > 1`), `[B]`.
pub fn far_fraction<B: Backend>(r: Tensor<B, 2>) -> Tensor<B, 1> {
    let [b, _] = r.dims();
    in_f32(r.greater_elem(1.0).float()).mean_dim(1).reshape([b])
}
